// `kubewire tail` (and `ls --follow`): prints exchanges as a running proxy records them, with the
// ls filters; polls the recording read-only, so it works beside the writer.
import { Command, InvalidArgumentError, Option } from "commander";
import type { ListFilter, Store } from "../../store/store.js";
import { addDbOption, openRecording } from "../db-option.js";
import { parseDuration } from "../durations.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { checkFormat, json, paint } from "../output.js";
import { renderRows } from "./ls.js";

export interface FollowOptions {
  format: string;
  noHeaders: boolean;
  intervalMs: number;
  /** stop after this long (for scripts and tests); undefined follows until interrupted */
  stopAfterMs?: number;
  /** how many already-recorded exchanges to print first */
  backlog: number;
  write: (text: string) => void;
}

/** Prints the newest `backlog` matches, then every new match until stopped. */
export async function follow(store: Store, filter: ListFilter, o: FollowOptions): Promise<void> {
  const p = paint(process.stdout);
  let headerShown = o.noHeaders;
  const print = (rows: ReturnType<Store["list"]>) => {
    if (rows.length === 0) return;
    if (o.format === "json") {
      // one JSON object per line, so a pipe can read them as they come
      o.write(rows.map((r) => json(r, 0)).join(""));
      return;
    }
    o.write(renderRows(rows, o.format, headerShown, p));
    headerShown = true;
  };
  let after = store.lastId();
  if (o.backlog > 0) {
    const first = store.list({ ...filter, limit: o.backlog, afterId: undefined });
    print(first.filter((r) => r.id <= after));
  }
  const stopAt = o.stopAfterMs === undefined ? Infinity : Date.now() + o.stopAfterMs;
  let stopped = false;
  const stop = () => (stopped = true);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    while (!stopped && Date.now() < stopAt) {
      await new Promise((r) => setTimeout(r, Math.min(o.intervalMs, Math.max(0, stopAt - Date.now()))));
      const upTo = store.lastId();
      if (upTo <= after) continue;
      const rows = store.list({ ...filter, limit: undefined, afterId: after });
      print(rows);
      after = rows.reduce((max, r) => Math.max(max, r.id), upTo);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

function parseBacklog(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not a whole number (0 prints none)`);
  return Number(v);
}

export function addFollowOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--interval <duration>", "how often to look for new exchanges").default(250, "250ms").argParser(parseDuration))
    .addOption(new Option("--stop-after <duration>", "stop following after this long").argParser(parseDuration));
}

export function makeTailCommand(): Command {
  const cmd = new Command("tail")
    .description("Print exchanges live as a running kubewire records them (same filters as ls)")
    .addOption(new Option("-o, --output <format>", "table, wide or json (one object per line)").default("table"))
    .option("--no-headers", "omit the header row")
    .addOption(new Option("--backlog <n>", "already-recorded exchanges to print first").default(10).argParser(parseBacklog))
    .addHelpText(
      "after",
      `
Examples:
  kubewire tail
  kubewire tail --status 4xx --flag forbidden
  kubewire tail -o json | jq -c 'select(.durationMs > 500)'
  kubewire ls --follow --resource pods`,
    );
  addFollowOptions(addFilterOptions(addDbOption(cmd))).action(async (opts) => {
    const format = checkFormat(opts.output, ["table", "wide", "json"]);
    const filter = filterFrom(opts);
    const store = openRecording(opts);
    try {
      await follow(store, { ...filter, limit: undefined }, {
        format,
        noHeaders: !opts.headers,
        intervalMs: opts.interval,
        stopAfterMs: opts.stopAfter,
        backlog: filter.limit ?? opts.backlog,
        write: (t) => process.stdout.write(t),
      });
    } finally {
      store.close();
    }
  });
  return cmd;
}
