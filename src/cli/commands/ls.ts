// `kubewire ls`: one row per recorded exchange, newest last, with filters.
import { Command, Option } from "commander";
import type { ExchangeRow } from "../../store/store.js";
import { openRecording, addDbOption } from "../db-option.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { age, bytes, checkFormat, json, latency, paint, table, yaml, type Paint } from "../output.js";
import { addFollowOptions, follow } from "./tail.js";

export function makeLsCommand(): Command {
  const cmd = new Command("ls")
    .description("List recorded exchanges, newest last")
    .addOption(new Option("-o, --output <format>", "table, wide, json or yaml").default("table"))
    .option("--no-headers", "omit the header row")
    .option("-f, --follow", "after the list, print new exchanges as they are recorded (as kubewire tail)")
    .option("--injected", "only exchanges a kubewire fault rule acted on (their FLAGS say injected)") // fault:
    .addHelpText(
      "after",
      `
Examples:
  kubewire ls --status 4xx --since 10m
  kubewire ls --resource pods --verb list -o json
  kubewire ls --flag forbidden --limit 20
  kubewire ls --injected
  kubewire ls --follow --namespace kube-system`,
    );
  addFollowOptions(addFilterOptions(addDbOption(cmd))).action(async (opts) => {
    const format = checkFormat(opts.output, opts.follow ? ["table", "wide", "json"] : ["table", "wide", "json", "yaml"]);
    const filter = filterFrom(opts);
    if (opts.injected) filter.flag = "injected"; // fault:
    const store = openRecording(opts);
    try {
      if (opts.follow) {
        await follow(store, { ...filter, limit: undefined }, {
          format,
          noHeaders: !opts.headers,
          intervalMs: opts.interval,
          stopAfterMs: opts.stopAfter,
          backlog: filter.limit ?? 10,
          write: (t) => process.stdout.write(t),
        });
        return;
      }
      const rows = store.list(filter);
      process.stdout.write(renderRows(rows, format, !opts.headers, paint(process.stdout)));
    } finally {
      store.close();
    }
  });
  return cmd;
}

export function statusText(r: ExchangeRow): string {
  if (r.error && r.status === null) return r.error.code;
  if (r.error && r.status !== null) return `${r.status} ${r.error.code}`;
  return r.status === null ? "-" : String(r.status);
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

export function renderRows(rows: ExchangeRow[], format: string, noHeaders: boolean, p: Paint, now = Date.now()): string {
  if (format === "json") return json(rows);
  if (format === "yaml") return yaml(rows);
  const colour = (r: ExchangeRow, s: string) => (r.error || (r.status ?? 0) >= 500 ? p.red(s) : (r.status ?? 0) >= 400 ? p.yellow(s) : s);
  const headers = ["ID", "AGE", "VERB", "RESOURCE", "NAMESPACE/NAME", "STATUS", "LATENCY", "FLAGS"];
  if (format === "wide") headers.push("USER-AGENT", "CONTEXT", "BYTES", "ERROR");
  const body = rows.map((r) => {
    const cells = [String(r.id), age(now - Date.parse(r.time)), r.verb || "-", resourceText(r), objectText(r), statusText(r), latency(r.durationMs), r.flags.join(",")];
    if (format === "wide") cells.push(r.userAgent.split(" ")[0] || "-", r.context, `${bytes(r.bytesIn)}/${bytes(r.bytesOut)}`, r.error?.message ?? "");
    return cells;
  });
  const text = table(headers, body, noHeaders);
  if (format === "wide" || !process.stdout.isTTY) return text;
  const lines = text.split("\n");
  const offset = noHeaders ? 0 : 1;
  return lines.map((l, i) => (i >= offset && rows[i - offset] ? colour(rows[i - offset], l) : l)).join("\n");
}
