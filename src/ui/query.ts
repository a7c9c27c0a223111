// The web view's query string → the store's ListFilter: the same filters as `ls` (status class,
// verb, resource, namespace, name, since, until, flag, origin, context, source, free text), bad values named.
import { UserError } from "../errors.js";
import type { ListFilter } from "../store/store.js";
import { rules } from "../analyze/index.js";
import { parseResourceArg } from "../resource-arg.js";
import { parseSourceSelector } from "../store/source-selector.js";

function status(v: string): ListFilter["status"] {
  if (v === "4xx" || v === "5xx" || v === "error") return v;
  if (/^[1-5]\d\d$/.test(v)) return Number(v);
  throw new UserError(`status "${v}" is not a status (examples: 403, 4xx, 5xx, error)`);
}

/** "10m", "2h" (ago), epoch ms, or an ISO time. */
function time(name: string, v: string, now: number): number {
  const ago = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(v);
  if (ago) return now - Number(ago[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "ms"];
  if (/^\d{12,}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UserError(`${name} "${v}" is neither a duration (10m, 2h) nor a time`);
  return t;
}

export function filterFromQuery(q: URLSearchParams, now = Date.now()): ListFilter {
  const f: ListFilter = {};
  const get = (k: string) => q.get(k)?.trim() || undefined;
  const s = get("status");
  if (s) f.status = status(s);
  for (const k of ["verb", "namespace", "name", "origin", "context"] as const) {
    const v = get(k);
    if (v) f[k] = v;
  }
  const resource = get("resource");
  if (resource) Object.assign(f, parseResourceArg(resource, "resource"));
  const since = get("since");
  if (since) f.since = time("since", since, now);
  const until = get("until");
  if (until) f.until = time("until", until, now);
  const flag = get("flag");
  if (flag) {
    if (!rules.some((r) => r.kind === flag)) throw new UserError(`flag "${flag}" is not a kind kubewire raises`);
    f.flag = flag;
  }
  const source = get("source");
  if (source) f.source = parseSourceSelector(source, "source");
  const text = get("q");
  if (text) f.pathContains = text;
  return f;
}

/** A whole number query parameter within [min, max], or the default. */
export function intParam(q: URLSearchParams, name: string, dflt: number | null, min: number, max: number): number | null {
  const v = q.get(name);
  if (v === null || v === "") return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UserError(`${name} "${v}" is not a whole number from ${min} to ${max}`);
  return Number(v);
}
