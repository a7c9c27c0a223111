// The fault rules' data: the stable YAML shape (faults: [{name, match, action, times, after,
// probability, until}]), the inline `--fault` syntax, and their validation (one line naming rule and field).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type YAML from "yaml";
import { UserError } from "../errors.js";
import { parseResourceArg } from "../resource-arg.js";

export interface FaultMatch {
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** glob over the User-Agent */
  userAgent?: string;
  method?: string;
  /** glob over the path (without the query) */
  path?: string;
}

export interface FaultAction {
  status?: number;
  retryAfter?: number;
  message?: string;
  delayMs?: number;
  jitterMs?: number;
  bytesPerSecond?: number;
  reset?: boolean;
  hang?: boolean;
  endWatchAfterEvents?: number;
  endWatchAfterSeconds?: number;
  goaway?: boolean;
}

export interface FaultRule {
  name: string;
  match: FaultMatch;
  action: FaultAction;
  times?: number;
  after?: number;
  probability?: number;
  /** epoch ms after which the rule no longer fires */
  until?: number;
}

export const MATCH_FIELDS = ["verb", "group", "resource", "subresource", "namespace", "name", "userAgent", "method", "path"] as const;
const ACTION_NUMBERS = ["status", "retryAfter", "delayMs", "jitterMs", "bytesPerSecond", "endWatchAfterEvents", "endWatchAfterSeconds"] as const;
const ACTION_BOOLEANS = ["reset", "hang", "goaway"] as const;
export const ACTION_FIELDS = [...ACTION_NUMBERS, "message", ...ACTION_BOOLEANS] as const;
const RULE_FIELDS = ["name", "match", "action", "times", "after", "probability", "until"] as const;

/** The statuses kubewire can answer with, each in kube-apiserver's shape (see answers.ts). */
export const FAULT_STATUSES = [401, 403, 410, 429, 500, 503, 504];
/** The statuses of an ERROR event inside a watch stream. */
export const IN_STREAM_STATUSES = [410, 500];

/** The one-word name of what an action does, for `ls`, metrics and verdicts. */
export function actionKind(a: FaultAction): string {
  if (a.reset) return "reset";
  if (a.hang) return "hang";
  if (a.goaway) return "goaway";
  if (a.endWatchAfterEvents !== undefined || a.endWatchAfterSeconds !== undefined) return a.status ? `end-watch-${a.status}` : "end-watch";
  if (a.status !== undefined) return String(a.status);
  if (a.bytesPerSecond !== undefined) return "bandwidth";
  if (a.delayMs !== undefined) return "delay";
  return "none";
}

function fail(rule: string, field: string, why: string): never {
  throw new UserError(`fault ${rule}: ${field}: ${why}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(rule: string, field: string, v: unknown, min: number, max = Infinity, integer = true): number {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    fail(rule, field, `${JSON.stringify(v)} is not ${integer ? "a whole number" : "a number"} ${max === Infinity ? `of ${min} or more` : `from ${min} to ${max}`}`);
  }
  return n;
}

function bool(rule: string, field: string, v: unknown): boolean {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  fail(rule, field, `${JSON.stringify(v)} is not true or false`);
}

/** "2026-11-30T20:00:00Z" or a duration from now ("30s", "5m", "1h"). */
function deadline(rule: string, v: unknown, now: number): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v instanceof Date) return v.getTime();
  const s = String(v);
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (d) return now + Number(d[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[d[2] as "ms"];
  const t = Date.parse(s);
  if (Number.isNaN(t)) fail(rule, "until", `${JSON.stringify(v)} is neither an ISO time nor a duration such as 30s or 5m`);
  return t;
}

/** One rule from its YAML/JSON object; `index` (1-based) names it when it has no name. */
export function ruleFrom(raw: unknown, index: number, now = Date.now()): FaultRule {
  const fallback = `fault-${index}`;
  if (!isRecord(raw)) fail(fallback, "rule", "expected a mapping with match and action");
  const name = raw.name === undefined ? fallback : String(raw.name);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) fail(fallback, "name", `${JSON.stringify(raw.name)} must be letters, digits, ".", "_" or "-" (at most 63)`);
  for (const k of Object.keys(raw)) if (!(RULE_FIELDS as readonly string[]).includes(k)) fail(name, k, `unknown field; a rule takes ${RULE_FIELDS.join(", ")}`);

  const match: FaultMatch = {};
  if (raw.match !== undefined && !isRecord(raw.match)) fail(name, "match", "expected a mapping such as {verb: list, resource: pods}");
  for (const [k, v] of Object.entries(raw.match ?? {})) {
    if (!(MATCH_FIELDS as readonly string[]).includes(k)) fail(name, `match.${k}`, `unknown match field; match takes ${MATCH_FIELDS.join(", ")}`);
    if (typeof v !== "string" && typeof v !== "number") fail(name, `match.${k}`, `${JSON.stringify(v)} is not text`);
    match[k as keyof FaultMatch] = String(v);
  }
  if (match.method) match.method = match.method.toUpperCase();
  if (match.resource !== undefined) {
    // the --resource grammar: deployments.apps, pods/log, deploy
    const r = parseResourceArg(match.resource, `fault ${name}: match.resource`);
    if (r.version) fail(name, "match.resource", `a rule matches RESOURCE.GROUP; leave out the version (${r.resource}.${r.group})`);
    for (const k of ["group", "subresource"] as const) {
      if (r[k] !== undefined && match[k] !== undefined && r[k] !== match[k]) fail(name, `match.${k}`, `${JSON.stringify(match[k])} contradicts match.resource ${JSON.stringify(match.resource)}`);
      if (r[k] !== undefined) match[k] = r[k];
    }
    match.resource = r.resource;
  }

  if (!isRecord(raw.action)) fail(name, "action", "missing; expected a mapping such as {status: 429, retryAfter: 1}");
  const action: FaultAction = {};
  for (const [k, v] of Object.entries(raw.action)) {
    const field = `action.${k}`;
    if ((ACTION_NUMBERS as readonly string[]).includes(k)) {
      const n = num(name, field, v, k === "bytesPerSecond" ? 1 : 0, Infinity, k !== "endWatchAfterSeconds");
      (action as Record<string, number>)[k] = n;
    } else if ((ACTION_BOOLEANS as readonly string[]).includes(k)) {
      (action as Record<string, boolean>)[k] = bool(name, field, v);
    } else if (k === "message") {
      action.message = String(v);
    } else {
      fail(name, field, `unknown action; action takes ${ACTION_FIELDS.join(", ")}`);
    }
  }
  const endsWatch = action.endWatchAfterEvents !== undefined || action.endWatchAfterSeconds !== undefined;
  if (action.status !== undefined) {
    const allowed = endsWatch ? IN_STREAM_STATUSES : FAULT_STATUSES;
    if (!allowed.includes(action.status)) fail(name, "action.status", `${action.status} is not one kubewire answers with${endsWatch ? " inside a watch" : ""}; use ${allowed.join(", ")}`);
  }
  const exclusive = [action.status !== undefined && !endsWatch, action.reset, action.hang, endsWatch, action.goaway].filter(Boolean).length;
  if (exclusive > 1) fail(name, "action", "status, reset, hang, endWatchAfter... and goaway are alternatives: give one");
  if (exclusive === 0 && action.delayMs === undefined && action.bytesPerSecond === undefined) {
    fail(name, "action", "does nothing; give status, delayMs, bytesPerSecond, reset, hang, endWatchAfterEvents, endWatchAfterSeconds or goaway");
  }
  if (action.retryAfter !== undefined && action.status === undefined) fail(name, "action.retryAfter", "needs a status (429 or 503)");
  if (action.jitterMs !== undefined && action.delayMs === undefined) fail(name, "action.jitterMs", "needs delayMs");
  if (action.message !== undefined && action.status === undefined) fail(name, "action.message", "needs a status");

  const rule: FaultRule = { name, match, action };
  if (raw.times !== undefined) rule.times = num(name, "times", raw.times, 1);
  if (raw.after !== undefined) rule.after = num(name, "after", raw.after, 0);
  if (raw.probability !== undefined) rule.probability = num(name, "probability", raw.probability, 0, 1, false);
  if (raw.until !== undefined) rule.until = deadline(name, raw.until, now);
  return rule;
}

/** yaml, loaded when a rules file is read, not by every run that may take one (exec's start-up) */
let yaml: typeof YAML | null = null;
const parse = (text: string): unknown => (yaml ??= createRequire(import.meta.url)("yaml") as typeof YAML).parse(text);

/** The rules of a YAML document `faults: [...]`; `source` names the file in errors. */
export function rulesFromYaml(text: string, source: string, firstIndex = 1, now = Date.now()): FaultRule[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new UserError(`${source}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!isRecord(doc) || !Array.isArray(doc.faults)) throw new UserError(`${source}: expected a top-level "faults:" list`);
  for (const k of Object.keys(doc)) if (k !== "faults") throw new UserError(`${source}: unknown top-level field "${k}"; the file holds only "faults:"`);
  return doc.faults.map((r, i) => ruleFrom(r, firstIndex + i, now));
}

/**
 * The inline syntax of `--fault`: the same fields as the rules file, comma-separated `key=value`,
 * match and action fields by their own names, the rule's name as `rule=`; a bare `reset`, `hang`
 * or `goaway` means `=true`. Example: `verb=list,resource=pods,status=429,retryAfter=1,times=3`.
 */
export function ruleFromInline(text: string, index: number, now = Date.now()): FaultRule {
  const raw: Record<string, unknown> = {};
  const match: Record<string, string> = {};
  const action: Record<string, unknown> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const key = eq === -1 ? part : part.slice(0, eq).trim();
    const value = eq === -1 ? "true" : part.slice(eq + 1).trim();
    if (key === "rule") raw.name = value;
    else if ((MATCH_FIELDS as readonly string[]).includes(key)) match[key] = value;
    else if ((ACTION_FIELDS as readonly string[]).includes(key)) action[key] = value;
    else if (key === "times" || key === "after" || key === "probability" || key === "until") raw[key] = value;
    else fail(raw.name ? String(raw.name) : `fault-${index}`, key, `unknown field; --fault takes rule, ${MATCH_FIELDS.join(", ")}, ${ACTION_FIELDS.join(", ")}, times, after, probability, until`);
  }
  raw.match = match;
  raw.action = action;
  return ruleFrom(raw, index, now);
}

/** A rule back in the file's shape (until as an ISO time), for `faults ls -o yaml` and the control endpoint. */
export function ruleToYamlObject(r: FaultRule): Record<string, unknown> {
  const out: Record<string, unknown> = { name: r.name, match: r.match, action: r.action };
  if (r.times !== undefined) out.times = r.times;
  if (r.after !== undefined) out.after = r.after;
  if (r.probability !== undefined) out.probability = r.probability;
  if (r.until !== undefined) out.until = new Date(r.until).toISOString();
  return out;
}

/** The rules of --faults FILE then --fault ..., named fault-1, fault-2, ... when unnamed; a bad one is a UserError. */
export function loadRules(o: { rules?: FaultRule[]; faultsFile?: string; fault?: string[] }): FaultRule[] {
  const rules: FaultRule[] = [...(o.rules ?? [])];
  if (o.faultsFile) {
    let text: string;
    try {
      text = readFileSync(o.faultsFile, "utf8");
    } catch (err) {
      throw new UserError(`--faults ${o.faultsFile}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
    }
    rules.push(...rulesFromYaml(text, o.faultsFile, rules.length + 1));
  }
  for (const f of o.fault ?? []) rules.push(ruleFromInline(f, rules.length + 1));
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.name)) throw new UserError(`fault ${r.name}: name: used by two rules`);
    seen.add(r.name);
  }
  return rules;
}
