// `--source`: a kubectl-like selector over where exchanges were recorded (ExchangeSource).
//
//   SELECTOR := TERM ("," TERM)*        every term must hold
//   TERM     := KEY "=" VALUE           that part of the source is exactly VALUE ("" : not known)
//             | RUN "@" HOST            as the SOURCE column writes a source: run and host
//             | RUN "@" NAMESPACE "/" POD   ... or, in-cluster, run, namespace and pod
//             | VALUE                   the host, the run or the pod is VALUE
//   KEY      := host | run | pod | namespace (ns) | sa (serviceaccount)
//
// e.g. `--source run=7f3a9c1e`, `--source host=alice-laptop,run=7f3a9c1e`, `--source 7f3a9c1e@alice-laptop`,
// `--source sa=shop:operator` (a service account as NS:NAME, or as system:serviceaccount:NS:NAME).
import { UserError } from "../errors.js";
import type { ExchangeSource } from "../types.js";

export type SourceKey = keyof ExchangeSource;

interface KeyRule {
  key: SourceKey;
  names: string[];
  /** the sources table's column */
  column: string;
  help: string;
  /** the stored form of a value given on the command line */
  normalize?: (value: string) => string;
}

const SA_PREFIX = "system:serviceaccount:";

/** The keys, in help order: the parser and the help line are both made from this list. */
export const SOURCE_KEYS: KeyRule[] = [
  { key: "host", names: ["host"], column: "host", help: "the machine's host name (import: an imported HAR that did not say)" },
  { key: "run", names: ["run"], column: "run", help: "the recording run's id (start, exec, replay and doctor each make one)" },
  { key: "pod", names: ["pod"], column: "pod", help: "in-cluster: the pod kubewire ran in" },
  { key: "namespace", names: ["namespace", "ns"], column: "namespace", help: "in-cluster: the pod's namespace" },
  {
    key: "serviceAccount",
    names: ["sa", "serviceaccount"],
    column: "service_account",
    help: "in-cluster: the client's service account, NS:NAME",
    normalize: (v) => (v === "" || v.startsWith(SA_PREFIX) ? v : `${SA_PREFIX}${v}`),
  },
];

/** A parsed selector: exact parts, and bare values each matching the host, the run or the pod. */
export interface SourceSelector {
  parts: Partial<Record<SourceKey, string>>;
  any: string[];
}

/** One help line: the grammar in short, for `--source`'s option help. */
export const SOURCE_SELECTOR_HELP = `where it was recorded: ${SOURCE_KEYS.map((k) => `${k.names[0]}=`).join(", ")} (comma-separated, all must hold), a bare host, run or pod, or RUN@HOST as the SOURCE column shows it`;

/** Parses a selector; `what` names it in the one-line error (the flag, or the web view's query parameter). */
export function parseSourceSelector(text: string, what = "--source"): SourceSelector {
  const sel: SourceSelector = { parts: {}, any: [] };
  const bad = (why: string) =>
    new UserError(`${what} ${JSON.stringify(text)}: ${why}`, `write KEY=VALUE pairs separated by commas (keys: ${SOURCE_KEYS.map((k) => k.names.join("/")).join(", ")}), or a bare host, run or pod: e.g. ${what} run=7f3a9c1e`);
  if (text.trim() === "") throw bad("is empty");
  for (const raw of text.split(",")) {
    const term = raw.trim();
    if (term === "") throw bad("has an empty term");
    const set = (key: SourceKey, value: string) => {
      const rule = SOURCE_KEYS.find((k) => k.key === key)!;
      if (key in sel.parts) throw bad(`${rule.names[0]} is given twice`);
      sel.parts[key] = rule.normalize ? rule.normalize(value) : value;
    };
    const eq = term.indexOf("=");
    const at = term.indexOf("@");
    if (eq < 0 && at > 0) {
      // the SOURCE column's text: RUN@HOST, or RUN@NAMESPACE/POD
      const where = term.slice(at + 1);
      const slash = where.indexOf("/");
      set("run", term.slice(0, at));
      if (slash < 0) set("host", where);
      else {
        set("namespace", where.slice(0, slash));
        set("pod", where.slice(slash + 1));
      }
      continue;
    }
    if (eq < 0) {
      sel.any.push(term);
      continue;
    }
    const name = term.slice(0, eq).trim().toLowerCase();
    const value = term.slice(eq + 1).trim();
    if (name === "") throw bad(`"${term}" has no key`);
    const rule = SOURCE_KEYS.find((k) => k.names.includes(name));
    if (!rule) throw bad(`"${name}" is not a source key`);
    set(rule.key, value);
  }
  return sel;
}

/**
 * A source as the tables write it, and as `--source` reads it back: RUN@HOST, RUN@NAMESPACE/POD
 * in-cluster, the host alone when there is no run (an import), "-" when nothing is known.
 */
export function sourceLabel(s: ExchangeSource | undefined): string {
  const where = s?.pod ? `${s.namespace ?? ""}/${s.pod}` : (s?.host ?? "");
  if (s?.run) return `${s.run}@${where}`;
  return where || "-";
}

/** The condition (alias e) for exchanges whose source the selector picks; values are bound parameters. */
export function sourceCondition(sel: SourceSelector): { sql: string; params: string[] } {
  const conds: string[] = [];
  const params: string[] = [];
  for (const rule of SOURCE_KEYS) {
    const value = sel.parts?.[rule.key];
    if (value === undefined) continue;
    if (typeof value !== "string") throw new UserError(`source ${rule.names[0]} must be text, got ${JSON.stringify(value)}`);
    conds.push(`s.${rule.column} = ?`);
    params.push(value);
  }
  for (const value of sel.any ?? []) {
    if (typeof value !== "string") throw new UserError(`a source value must be text, got ${JSON.stringify(value)}`);
    conds.push("(s.host = ? OR s.run = ? OR s.pod = ?)");
    params.push(value, value, value);
  }
  // the sources table is small (a row per run): it is read whole, and the ids it gives meet exchanges_source
  return { sql: `e.source_id IN (SELECT s.id FROM sources s${conds.length ? ` WHERE ${conds.join(" AND ")}` : ""})`, params };
}
