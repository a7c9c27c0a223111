// Before and after for one replayed request: status, latency, certificate chain, flags raised
// (as the store holds them) and a one-line summary of how the response body changed.
import { plural } from "../analyze/lib/util.js";
import type { CapturedBody, Exchange } from "../types.js";

export interface ReplaySide {
  id: number | null;
  status: number | null;
  error: string | null;
  /** total latency; time to the response head for watches and streams */
  latencyMs: number | null;
  /** SHA-256 of each certificate, leaf first */
  chain: string[];
  flags: string[];
  body: string;
}

export interface Comparison {
  id: number;
  method: string;
  path: string;
  query: string;
  before: ReplaySide;
  after: ReplaySide;
  succeeds: boolean;
  /** null when either side has no chain recorded */
  chainChanged: boolean | null;
  flagsGone: string[];
  flagsAppeared: string[];
  bodyDiff: string;
}

/** A request succeeds when it got a 1xx-3xx answer from the API server and no error. */
function succeeds(ex: Exchange | null): boolean {
  return !!ex && !ex.error && !!ex.response && ex.response.status < 400;
}

function latencyOf(ex: Exchange): number {
  return ex.stream ? ex.timing.ttfbMs : ex.timing.totalMs;
}

function parseJson(body: CapturedBody | null): Record<string, unknown> | null {
  if (!body || body.encoding !== "utf8" || body.truncated) return null;
  const text = body.data.trim();
  if (!text.startsWith("{")) return null;
  try {
    return JSON.parse(text.includes("\n") ? text.split("\n")[0] : text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** "PodList (3 items)", "Status Forbidden (message)", "Table (2 rows)", "text 120B", "no body". */
function bodySummary(ex: Exchange | null): string {
  const body = ex?.response?.body ?? null;
  if (!ex?.response) return ex?.error ? `no response (${ex.error.code})` : "no response";
  if (!body) return "no body";
  if (ex.stream?.kind === "watch") return `watch stream, ${plural(ex.stream.events, "event")}`;
  const obj = parseJson(body);
  if (!obj) return `${body.encoding === "base64" ? "binary" : "text"} ${body.size}B${body.truncated ? " (truncated)" : ""}`;
  const kind = typeof obj.kind === "string" ? obj.kind : "JSON";
  if (kind === "Status") {
    const message = typeof obj.message === "string" ? obj.message : "";
    const short = message.length > 160 ? `${message.slice(0, 157)}...` : message;
    return `Status ${String(obj.reason ?? obj.status ?? "")}${short ? ` (${short})` : ""}`;
  }
  if (kind === "Table" && Array.isArray(obj.rows)) return `Table (${plural(obj.rows.length, "row")})`;
  if (Array.isArray(obj.items)) return `${kind} (${plural(obj.items.length, "item")})`;
  return kind;
}

function side(ex: Exchange | null, flags: string[], fallback?: { status: number | null; error: string | null; ms: number }): ReplaySide {
  if (!ex) {
    return { id: null, status: fallback?.status ?? null, error: fallback?.error ?? "not recorded", latencyMs: fallback?.ms ?? null, chain: [], flags, body: "not recorded" };
  }
  return {
    id: ex.id ?? null,
    status: ex.response?.status ?? null,
    error: ex.error ? ex.error.code : null,
    latencyMs: latencyOf(ex),
    chain: (ex.tls?.chain ?? []).map((c) => c.sha256),
    flags,
    body: bodySummary(ex),
  };
}

function sameBody(a: Exchange, b: Exchange): boolean {
  const x = a.response?.body;
  const y = b.response?.body;
  return !!x && !!y && x.data === y.data && x.encoding === y.encoding;
}

export function compare(
  before: Exchange,
  beforeFlags: string[],
  after: Exchange | null,
  afterFlags: string[],
  sent?: { status: number | null; error: string | null; ms: number },
): Comparison {
  const b = side(before, beforeFlags);
  const a = side(after, afterFlags, sent);
  const chainChanged = b.chain.length === 0 || a.chain.length === 0 ? null : b.chain.join(",") !== a.chain.join(",");
  let bodyDiff: string;
  if (after && sameBody(before, after)) bodyDiff = "same body";
  else if (b.body === a.body) bodyDiff = `${b.body}, content changed`;
  else bodyDiff = `${b.body} → ${a.body}`;
  return {
    id: before.id!,
    method: before.request.method,
    path: before.request.path,
    query: before.request.query,
    before: b,
    after: a,
    succeeds: succeeds(after),
    chainChanged,
    flagsGone: beforeFlags.filter((f) => !afterFlags.includes(f)),
    flagsAppeared: afterFlags.filter((f) => !beforeFlags.includes(f)),
    bodyDiff,
  };
}
