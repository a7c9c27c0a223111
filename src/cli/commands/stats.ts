// `kubewire stats`: per verb, API group and resource (and per context when several were recorded) the
// count, error rate, p50/p90/p99 latency and bytes of the recorded exchanges.
import { Command, Option } from "commander";
import type { GroupKey, LatencyGroup } from "../../store/store.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { addFilterOptions, listingFrom, type ListingOptions, validateListing } from "../list-filters.js";
import { bytes, json, latency, table, yaml } from "../../format/output.js";
import { printList, sortBy } from "../../format/printers.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

export interface StatsRow extends GroupKey {
  count: number;
  errors: number;
  /** errors / count, 0..1 */
  errorRate: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  bytesIn: number;
  bytesOut: number;
}

function statsRows(groups: LatencyGroup[]): StatsRow[] {
  return groups
    .map((g) => ({
      context: g.context,
      verb: g.verb,
      group: g.group,
      resource: g.resource,
      subresource: g.subresource,
      count: g.count,
      errors: g.errors,
      errorRate: g.count ? g.errors / g.count : 0,
      p50Ms: round(g.percentiles[0]),
      p90Ms: round(g.percentiles[1]),
      p99Ms: round(g.percentiles[2]),
      maxMs: round(g.percentiles[3]),
      bytesIn: g.bytesIn,
      bytesOut: g.bytesOut,
    }))
    .sort((a, b) => b.count - a.count || a.context.localeCompare(b.context) || a.resource.localeCompare(b.resource) || a.verb.localeCompare(b.verb));
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function resourceText(r: StatsRow): string {
  if (!r.resource) return "(non-resource)";
  return `${r.resource}${r.subresource ? `/${r.subresource}` : ""}`;
}

/** Rows are per API group: the column tells `get (non-resource)` of /apis/apps/v1 from that of /apis/batch/v1. */
function groupText(r: StatsRow): string {
  if (r.group) return r.group;
  return r.resource ? "core" : "-";
}

function renderStats(rows: StatsRow[], noHeaders: boolean): string {
  const several = new Set(rows.map((r) => r.context)).size > 1;
  const headers = [...(several ? ["CONTEXT"] : []), "VERB", "GROUP", "RESOURCE", "COUNT", "ERRORS", "P50", "P90", "P99", "BYTES-IN", "BYTES-OUT"];
  const body = rows.map((r) => [
    ...(several ? [r.context] : []),
    r.verb || "-",
    groupText(r),
    resourceText(r),
    String(r.count),
    `${r.errors} (${(r.errorRate * 100).toFixed(1)}%)`,
    latency(r.p50Ms),
    latency(r.p90Ms),
    latency(r.p99Ms),
    bytes(r.bytesIn),
    bytes(r.bytesOut),
  ]);
  return table(headers, body, noHeaders);
}

export function makeStatsCommand(): Command {
  const cmd = new Command("stats")
    .description("Count, error rate, latency percentiles and bytes per verb, API group and resource")
    .addOption(new Option("-o, --output <format>", "table, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC").default("table"))
    .option("--sort-by <jsonpath>", "order the rows by a field of the -o json shape, e.g. .p99Ms (default: most exchanges first)")
    .option("--no-headers", "omit the header row")
    .addHelpText(
      "after",
      `
Examples:
  kubewire stats
  kubewire stats --since 1h --resource pods
  kubewire stats -o json | jq 'sort_by(-.p99Ms) | .[0]'
  kubewire stats --sort-by .p99Ms -o custom-columns=VERB:.verb,RESOURCE:.resource,P99:.p99Ms`,
    );
  addFilterOptions(addDbOption(cmd)).action(actionOf(statsSteps));
  return cmd;
}

export type StatsOptions = ListingOptions;

export const statsSteps: CommandSteps<StatsOptions> = {
  complete({ opts }) {
    return listingFrom(opts, ["table", "json", "yaml"]);
  },
  validate: validateListing,
  run(o, { out }) {
    const store = openRecording(o.recording);
    let rows: StatsRow[];
    try {
      rows = statsRows(store.latencyGroups(o.filter, [0.5, 0.9, 0.99, 1]));
    } finally {
      store.close();
    }
    if (o.sortBy) rows = sortBy(rows, o.sortBy);
    if (o.printer) out.write(printList(o.printer, rows, o.noHeaders));
    else if (o.format === "json") out.write(json(rows));
    else if (o.format === "yaml") out.write(yaml(rows));
    else out.write(rows.length ? renderStats(rows, o.noHeaders) : "No exchanges recorded that match.\n");
  },
};
