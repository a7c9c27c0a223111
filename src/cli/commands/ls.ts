// `kubewire ls`: one row per recorded exchange, in the order they started (newest last), with filters;
// with --follow (and as `kubewire tail`) it then polls the recording read-only for new ones.
import { Command, Option } from "commander";
import type { ExchangeRow, ListFilter, Store } from "../../store/store.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { addFilterOptions, listingFrom, type ListingOptions, validateListing } from "../list-filters.js";
import { age, bytes, escapeDeep, json, latency, paint, table, yaml, type Paint } from "../../format/output.js";
import { printEach, printList, sortBy, type Printer } from "../../format/printers.js";
import { parseDuration } from "../durations.js";
import { fitColumns, terminalWidth } from "../fit-width.js";
import { sourceLabel } from "../../store/source-selector.js";
import { actionOf, lineTo, type CommandSteps, type Sink } from "../command-shape.js";

export function makeLsCommand(): Command {
  const cmd = new Command("ls")
    .description("List recorded exchanges in the order they started, newest last (an ID is given when an exchange ends, so IDs may step back)")
    .addOption(new Option("-o, --output <format>", "table, wide, json, yaml, name (exchange/ID), jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE, custom-columns=SPEC, or jsonpath-file=/custom-columns-file=FILE").default("table"))
    .option("--sort-by <jsonpath>", "order by a field of the -o json shape, e.g. .durationMs or .status (with --limit: the newest N, sorted)")
    .option("--no-headers", "omit the header row")
    .option("-f, --follow", "after the list, print new exchanges as they are recorded (as kubewire tail)")
    .option("-w, --watch", "the same as --follow (kubectl's word for it)")
    .option("--injected", "only exchanges a kubewire fault rule acted on (their FLAGS say injected)") // fault:
    .addHelpText(
      "after",
      `
Examples:
  kubewire ls --status 4xx --since 10m
  kubewire ls --resource pods --verb list -o json
  kubewire ls --flag forbidden --limit 20
  kubewire ls -w --namespace kube-system             # -w is --follow
  kubewire ls --injected                             # what kubewire's fault rules acted on
  kubewire ls --status 5xx -o name                   # exchange/ID, one a line
  kubewire ls --source run=7f3a9c1e                  # one recording run of a shared database
  kubewire ls -o jsonpath='{range .items[?(@.status==403)]}{.id}{"\t"}{.path}{"\n"}{end}'
  kubewire ls -o custom-columns=ID:.id,VERB:.verb,CODE:.error.code --sort-by .durationMs`,
    );
  addFollowOptions(addFilterOptions(addDbOption(cmd))).action(actionOf(lsSteps));
  return cmd;
}

export interface LsOptions extends ListingOptions {
  follow: boolean;
  intervalMs: number;
  stopAfterMs?: number;
}

export const lsSteps: CommandSteps<LsOptions> = {
  complete({ opts }) {
    const follow = !!(opts.follow || opts.watch);
    const o: LsOptions = { ...listingFrom(opts, follow ? ["table", "wide", "json"] : ["table", "wide", "json", "yaml", "name"]), follow, intervalMs: opts.interval ?? 250, stopAfterMs: opts.stopAfter };
    if (opts.injected) o.filter.flag = "injected"; // fault:
    return o;
  },
  validate: validateListing,
  async run(o, { out, err }) {
    const store = openRecording(o.recording);
    try {
      if (o.follow) {
        await followListing(store, o, o.filter.limit ?? 10, { out, err });
        return;
      }
      const listed = store.list(o.filter);
      const rows = o.sortBy ? sortBy(listed, o.sortBy) : listed;
      out.write(o.printer ? printList(o.printer, rows, o.noHeaders) : renderRows(rows, o.format, o.noHeaders, paint(out), { source: store.severalSources(), out }));
    } finally {
      store.close();
    }
  },
};

export function statusText(r: ExchangeRow): string {
  const times = r.repeat ? ` ×${r.repeat.count}` : ""; // an aggregated row: requests without the proxy token
  if (r.error && r.status === null) return `${r.error.code}${times}`;
  if (r.error && r.status !== null) return `${r.status} ${r.error.code}${times}`;
  return (r.status === null ? "-" : String(r.status)) + times;
}

function resourceText(r: ExchangeRow): string {
  if (!r.resource) return r.path || "(no request)";
  const res = r.group ? `${r.resource}.${r.group}` : r.resource;
  return r.subresource ? `${res}/${r.subresource}` : res;
}

function objectText(r: ExchangeRow): string {
  if (r.namespace && r.name) return `${r.namespace}/${r.name}`;
  return r.namespace || r.name || "";
}

/** source: add the SOURCE column (when the store holds exchanges of more than one source). */
/** out: the stream the table goes to, whose width it is fitted to and whether it is coloured. */
export function renderRows(wireRows: ExchangeRow[], format: string, noHeaders: boolean, p: Paint, o: { now?: number; source?: boolean; out: Sink }): string {
  const out = o.out;
  const now = o.now ?? Date.now();
  if (format === "name") return wireRows.map((r) => `exchange/${r.id}\n`).join("");
  if (format === "json") return json(wireRows);
  if (format === "yaml") return yaml(wireRows);
  const rows = escapeDeep(wireRows); // paths, user agents and error texts came from the wire
  const colour = (r: ExchangeRow, s: string) => (r.error || (r.status ?? 0) >= 500 ? p.red(s) : (r.status ?? 0) >= 400 ? p.yellow(s) : s);
  const headers = ["ID", "AGE", ...(o.source ? ["SOURCE"] : []), "VERB", "RESOURCE", "NAMESPACE/NAME", "STATUS", "LATENCY", "FLAGS"];
  if (format === "wide") headers.push("ORIGIN", "USER-AGENT", "CONTEXT", "BYTES", "ERROR");
  const body = rows.map((r) => {
    const cells = [String(r.id), age(now - Date.parse(r.time)), ...(o.source ? [sourceLabel(r.source)] : []), r.verb || "-", resourceText(r), objectText(r), statusText(r), latency(r.durationMs), r.flags.join(",")];
    if (format === "wide") cells.push(r.replayOf ? `replay of ${r.replayOf}` : r.origin, r.userAgent.split(" ")[0] || "-", r.context, `${bytes(r.bytesIn)}/${bytes(r.bytesOut)}`, r.error?.message ?? "");
    return cells;
  });
  // fitted to the terminal: RESOURCE, NAMESPACE/NAME and FLAGS (and wide's USER-AGENT and ERROR) give way
  const width = terminalWidth(out);
  const shrinkable = ["RESOURCE", "NAMESPACE/NAME", "FLAGS", "USER-AGENT", "ERROR"].map((h) => headers.indexOf(h)).filter((i) => i >= 0);
  const text = table(headers, width ? fitColumns(headers, body, width, shrinkable) : body, noHeaders);
  if (format === "wide" || !out.isTTY) return text;
  const lines = text.split("\n");
  const offset = noHeaders ? 0 : 1;
  return lines.map((l, i) => (i >= offset && rows[i - offset] ? colour(rows[i - offset], l) : l)).join("\n");
}

interface FollowOptions {
  format: string;
  /** a template (-o jsonpath=, custom-columns=), applied to each exchange as it comes */
  printer?: Printer;
  /** orders the already-recorded exchanges printed first; new ones print as they come */
  sortBy?: string;
  noHeaders: boolean;
  intervalMs: number;
  /** stop after this long (for scripts and tests); undefined follows until interrupted */
  stopAfterMs?: number;
  /** how many already-recorded exchanges to print first */
  backlog: number;
  /** where the rows go; its width and colour decide the table's */
  out: Sink;
  warn?: (line: string) => void;
}

/** `ls --follow` and `tail`: a listing's filter and output, the newest `backlog` matches first. */
export function followListing(store: Store, o: ListingOptions & { intervalMs: number; stopAfterMs?: number }, backlog: number, io: { out: Sink; err: Sink }): Promise<void> {
  return follow(store, { ...o.filter, limit: undefined }, {
    format: o.format,
    printer: o.printer,
    sortBy: o.sortBy,
    noHeaders: o.noHeaders,
    intervalMs: o.intervalMs,
    stopAfterMs: o.stopAfterMs,
    backlog,
    out: io.out,
    warn: lineTo(io.err),
  });
}

/** Prints the newest `backlog` matches, then every new match until stopped. */
async function follow(store: Store, filter: ListFilter, o: FollowOptions): Promise<void> {
  const out = o.out;
  const p = paint(out);
  let headerShown = o.noHeaders;
  let source = false;
  const print = (rows: ReturnType<Store["list"]>) => {
    if (rows.length === 0) return;
    if (o.printer) {
      out.write(printEach(o.printer, rows, headerShown));
      headerShown = true;
      return;
    }
    if (o.format === "json") {
      // one JSON object per line, so a pipe can read them as they come
      out.write(rows.map((r) => json(r, 0)).join(""));
      return;
    }
    // a second source (another run recording into the same database) adds the SOURCE column, under a new header
    const several = store.severalSources();
    if (several !== source && !o.noHeaders) headerShown = false;
    source = several;
    out.write(renderRows(rows, o.format, headerShown, p, { source, out }));
    headerShown = true;
  };
  if (o.sortBy) o.warn?.("warning: --sort-by orders the exchanges already recorded; new ones print as they come");
  let after = store.lastId();
  if (o.backlog > 0) {
    const first = store.list({ ...filter, limit: o.backlog, afterId: undefined }).filter((r) => r.id <= after);
    print(o.sortBy ? sortBy(first, o.sortBy) : first);
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

export function addFollowOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--interval <duration>", "how often to look for new exchanges").default(250, "250ms").argParser(parseDuration))
    .addOption(new Option("--stop-after <duration>", "stop following after this long").argParser(parseDuration));
}
