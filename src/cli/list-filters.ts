// The `ls` filters, shared by every command that selects exchanges (ls, tail, flags,
// stats, replay, export): parsed into the store's ListFilter, bad values named.
import { Command, InvalidArgumentError, Option } from "commander";
import type { ListFilter } from "../store/store.js";
import { parseDuration } from "./durations.js";
import { ruleFor } from "../analyze/lib/engine.js";
import { parseResourceArg, RESOURCE_HELP } from "../resource-arg.js";
import { parseSourceSelector, SOURCE_SELECTOR_HELP } from "../store/source-selector.js";
import { checkSortBy, outputOf, type Printer } from "../format/printers.js";

function parseStatus(v: string): ListFilter["status"] {
  if (v === "error") return v;
  if (/^[1-5]xx$/.test(v)) return v as ListFilter["status"];
  if (/^[1-5]\d\d$/.test(v)) return Number(v);
  throw new InvalidArgumentError(`"${v}" is not a status (examples: 403, 2xx, 4xx, 5xx, error)`);
}

/** "10m", "2h", "2w" (ago), or an ISO 8601 time; a bare number is refused: minutes, hours or a year? */
export function parseTime(v: string, now = Date.now()): number {
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    throw new InvalidArgumentError(`"${v}" has no unit: say how long ago (${t}m, ${t}h, ${t}d) or give an ISO time (2026-11-27T10:00:00Z)`);
  }
  if (/^\d+(\.\d+)?(ms|s|m|h|d|w)/.test(t)) return now - parseDuration(t);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`"${v}" is neither a duration (10m, 2h, 2w) nor an ISO time (2026-11-27T10:00:00Z)`);
  return ms;
}

function parseLimit(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`"${v}" is not a positive whole number`);
  return Number(v);
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--status <status>", "403, a class (1xx to 5xx), or error (no response at all)").argParser(parseStatus))
    .option("--verb <verb>", "get, list, watch, create, update, patch, delete, deletecollection")
    .option("--resource <resource>", RESOURCE_HELP)
    .option("-n, --namespace <namespace>", "namespace")
    .option("--name <name>", "object name")
    .addOption(new Option("--since <time>", "newer than: 10m, 2h, 2w ago, or an ISO time").argParser((v) => parseTime(v)))
    .addOption(new Option("--until <time>", "older than: 10m, 2h, 2w ago, or an ISO time").argParser((v) => parseTime(v)))
    .addOption(new Option("--slower-than <duration>", "total latency above, e.g. 500ms").argParser(parseDuration))
    .option("--flag <kind>", "exchanges flagged with this problem kind")
    .option("--path <substring>", "path contains")
    .option("--context <name>", "kubeconfig context recorded")
    .addOption(new Option("--origin <origin>", "who sent it: proxy (your programs), replay, doctor or import").choices(["proxy", "replay", "doctor", "import"]))
    .option("--source <selector>", `${SOURCE_SELECTOR_HELP}; e.g. run=7f3a9c1e, host=alice-laptop, sa=shop:operator`)
    .addOption(new Option("--limit <n>", "only the newest N").argParser(parseLimit));
}

export function filterFrom(o: Record<string, any>): ListFilter {
  const f: ListFilter = {};
  if (o.status !== undefined) f.status = o.status;
  if (o.verb) f.verb = o.verb;
  if (o.resource) Object.assign(f, parseResourceArg(String(o.resource)));
  if (o.namespace) f.namespace = o.namespace;
  if (o.name) f.name = o.name;
  if (o.since !== undefined) f.since = o.since;
  if (o.until !== undefined) f.until = o.until;
  if (o.slowerThan !== undefined) f.slowerThanMs = o.slowerThan;
  if (o.flag) f.flag = ruleFor(String(o.flag)).kind; // an unknown kind is a UserError listing the kinds
  if (o.path) f.pathContains = o.path;
  if (o.context) f.context = o.context;
  if (o.origin) f.origin = o.origin;
  if (o.source !== undefined) f.source = parseSourceSelector(String(o.source)); // bad input is a UserError naming --source
  if (o.limit) f.limit = o.limit;
  return f;
}

/** What every listing command (ls, tail, flags, stats) completes alike: the recording, the output, the filter. */
export interface ListingOptions {
  recording: { db?: string; stateDir?: string };
  format: string;
  printer?: Printer;
  sortBy?: string;
  noHeaders: boolean;
  filter: ListFilter;
}

/** The listing part of a command's complete step; formats: the -o values it prints besides templates. */
export function listingFrom(opts: Record<string, any>, formats: string[]): ListingOptions {
  const { format, printer } = outputOf(opts.output ?? "table", formats);
  return { recording: { db: opts.db, stateDir: opts.stateDir }, format, printer, sortBy: opts.sortBy, noHeaders: opts.headers === false, filter: filterFrom(opts) };
}

/** The listing part of a command's validate step. */
export function validateListing(o: ListingOptions): void {
  checkSortBy(o.sortBy);
}
