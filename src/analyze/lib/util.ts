// Small pure helpers the rules share: headers, Status bodies, times, certificates, and
// the Finding skeleton with its count, first/last seen and example IDs.
import type { CertInfo, Exchange, Finding, Headers, Severity } from "../../types.js";
import type { ExchangeSummary, RetryHeaders } from "./rule.js";

/** Most example request IDs a finding lists (count says how many there were). */
export const MAX_IDS = 50;

export function header(h: Headers | undefined, name: string): string | undefined {
  if (!h) return undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === want) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The message of a Kubernetes Status body, or the text of a text/plain body. */
export function responseMessage(ex: Exchange): string {
  const body = ex.response?.body;
  if (!body || body.encoding !== "utf8") return "";
  try {
    const v = JSON.parse(body.data);
    if (v && typeof v.message === "string") return v.message;
  } catch {
    /* not JSON */
  }
  return body.data.trim().split("\n")[0].slice(0, 300);
}

/** kubectl's way of naming what was asked: "list pods", "get deployments.apps web", "get /version". */
export function describeRequest(ex: { method?: string; path: string; verb: string; resource: string; group?: string; apiGroup?: string; subresource: string; namespace: string; name?: string }): string {
  if (!ex.resource) return `${ex.method ?? ex.verb.toUpperCase()} ${ex.path || "(no request)"}`;
  const g = ex.group ?? ex.apiGroup ?? "";
  const res = `${ex.resource}${g ? `.${g}` : ""}${ex.subresource ? `/${ex.subresource}` : ""}`;
  const where = ex.namespace ? ` in namespace ${ex.namespace}` : "";
  return `${ex.verb} ${res}${ex.name ? ` ${ex.name}` : ""}${where}`;
}

export function summaryOf(ex: Exchange): ExchangeSummary {
  return {
    id: ex.id ?? 0,
    startedAt: ex.startedAt,
    method: ex.request.method,
    path: ex.request.path,
    query: ex.request.query,
    verb: ex.info.verb,
    resource: ex.info.resource,
    group: ex.info.apiGroup,
    subresource: ex.info.subresource,
    namespace: ex.info.namespace,
    context: ex.context,
    status: ex.response ? ex.response.status : null,
    durationMs: ex.timing.totalMs,
    errorCode: ex.error?.code ?? null,
    bytesOut: ex.response ? ex.response.bytes : 0,
    tlsChainId: null,
    userAgent: ex.client.userAgent,
  };
}

export function retryHeadersOf(ex: Exchange): RetryHeaders {
  return { session: header(ex.request.headers, "kubectl-session") ?? "", retryAfter: header(ex.response?.headers, "retry-after") ?? null };
}

/** The parts every finding shares, from a group of exchanges (oldest first). */
export function findingOf(
  rule: { kind: string; severity: Severity },
  group: Array<{ id?: number; startedAt: number }>,
  message: string,
  evidence: string[],
  advice: string[],
): Finding {
  let first = Infinity;
  let last = -Infinity;
  for (const g of group) {
    if (g.startedAt < first) first = g.startedAt;
    if (g.startedAt > last) last = g.startedAt;
  }
  const ids = group.map((g) => g.id ?? 0).sort((a, b) => a - b);
  return {
    kind: rule.kind,
    severity: rule.severity,
    count: group.length,
    firstSeen: iso(first),
    lastSeen: iso(last),
    requestIds: ids.slice(0, MAX_IDS),
    message,
    evidence: dedupe(evidence),
    advice: dedupe(advice),
  };
}

export function dedupe(lines: string[]): string[] {
  return [...new Set(lines.filter((l) => l !== ""))];
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "2 of 3 requests" style counts in messages. */
export function requests(n: number): string {
  return plural(n, "request");
}

/** Appends value to the list under key, creating it. */
export function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Distinct values in first-seen order. */
export function distinct<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function certLine(c: CertInfo, i: number): string {
  return `chain[${i}]: subject ${c.subject || "(none)"}, issuer ${c.issuer || "(none)"}, valid ${c.notBefore} to ${c.notAfter}${c.san.length ? `, SANs ${c.san.join(" ")}` : ""}`;
}

/** The chain of the first exchange in the group that carries one, as evidence lines. */
export function chainEvidence(group: Exchange[]): string[] {
  const ex = group.find((e) => (e.tls?.chain.length ?? 0) > 0);
  if (!ex) return ["no certificate chain was recorded"];
  return ex.tls!.chain.map(certLine);
}

/** The kubeconfig place to fix, for the context the exchanges were recorded with. */
export function clusterField(ex: Exchange, field: string): string {
  return `${field} of the cluster that context "${ex.context}" uses (server ${ex.clusterUrl})`;
}

export function durationText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  if (ms < 2 * 3_600_000) return `${Math.round(ms / 60_000)}m`;
  if (ms < 2 * 86_400_000) return `${Math.round(ms / 3_600_000)}h`;
  return `${Math.round(ms / 86_400_000)}d`;
}

/** The client's own timeout from kubectl's --request-timeout (the timeout= query parameter), in ms. */
export function clientTimeoutMs(query: string): number | null {
  const m = /(?:^|&)timeout=([^&]+)/.exec(query);
  if (!m) return null;
  const v = decodeURIComponent(m[1]);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (let x = re.exec(v); x; x = re.exec(v)) {
    total += Number(x[1]) * unit[x[2]];
    consumed = re.lastIndex;
  }
  return consumed === v.length && consumed > 0 ? total : null;
}

/** Retry-After (seconds or an HTTP date) as milliseconds from `at`; null when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, at: number): number | null {
  if (value === null || value === undefined) return null;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - at);
}

/** A retry honours Retry-After when it came no sooner than asked (10% slack, as timers fire early). */
export function honoursRetryAfter(gapMs: number, askedMs: number): boolean {
  return gapMs >= askedMs * 0.9;
}

/** The same request: method, path, query (without timeout) and context. */
export function requestKey(r: { method: string; path: string; query: string; context: string }): string {
  const q = r.query.split("&").filter((p) => p !== "" && !p.startsWith("timeout=")).join("&");
  return `${r.context} ${r.method} ${r.path}${q ? `?${q}` : ""}`;
}
