// The client's reaction to each injected failure, judged (pure: exchanges in, verdicts out): how
// many retries, the gaps against exponential backoff with jitter, whether Retry-After was waited
// for, whether a watch ended with 410 was followed by a relist, whether and when the client gave up.
import type { Exchange } from "../types.js";
import { durationText } from "../analyze/lib/util.js";

/** client-go's own behaviour, the reference each verdict is read against. */
export const CLIENT_GO_REFERENCE = [
  "client-go retries a request answered 429 (or 5xx with Retry-After) after waiting Retry-After, up to 10 times",
  "client-go does not retry a 5xx without Retry-After: the caller (a controller's workqueue: 5 ms doubling to 1000 s per item) does",
  "client-go's reflector relists after a watch ends with 410 Expired, backing off 800 ms doubling to 30 s with jitter",
];

export interface Attempt {
  id: number | undefined;
  startedAt: number;
  /** the status, or the error code when there was no response */
  outcome: string;
  injected: string | null;
  /** what the client waited from the end of the previous attempt to the start of this one (ms) */
  gapMs: number | null;
}

export interface Verdict {
  client: string;
  request: string;
  rule: string;
  attempts: Attempt[];
  retries: number;
  retryAfterHonoured: boolean | null;
  backoff: "none" | "single" | "constant" | "exponential" | "irregular" | "hot-loop";
  relisted: boolean | null;
  outcome: "succeeded" | "gave-up" | "timed-out";
  /** from the first injected failure to the success or the last try (ms) */
  elapsedMs: number;
  line: string;
}

/** A retry must come within this long of the previous attempt to belong to the same try. */
export const RETRY_WINDOW_MS = 120_000;
const DROP_QUERY = /^(timeoutSeconds|resourceVersion|resourceVersionMatch|allowWatchBookmarks|watch|sendInitialEvents|timeout)=/;

function normQuery(q: string): string {
  return q.split("&").filter((p) => p && !DROP_QUERY.test(p)).sort().join("&");
}

function product(ua: string): string {
  return ua.split(" ")[0] || "(no user agent)";
}

function failed(ex: Exchange): boolean {
  if (ex.injected && (ex.injected.action === "delay" || ex.injected.action === "bandwidth" || ex.injected.action === "goaway")) return !!ex.error || (ex.response?.status ?? 0) >= 400;
  if (ex.injected) return true;
  return !ex.response || ex.response.status >= 400 || (!!ex.error && ex.error.code !== "CLIENT_ABORTED");
}

function outcomeOf(ex: Exchange): string {
  if (ex.injected?.action.startsWith("end-watch")) return ex.injected.action === "end-watch" ? "watch ended" : `watch ended with ERROR ${ex.injected.action.slice("end-watch-".length)}`;
  if (ex.injected?.action === "hang") return "hung";
  if (ex.response) return String(ex.response.status);
  return ex.error?.code ?? "no answer";
}

function retryAfterMs(ex: Exchange): number | null {
  const h = ex.response?.headers?.["retry-after"];
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) * 1000 : null;
}

function describe(ex: Exchange): string {
  const { info } = ex;
  if (!info.resource) return `${ex.request.method} ${ex.request.path}`;
  const res = (info.apiGroup ? `${info.resource}.${info.apiGroup}` : info.resource) + (info.subresource ? `/${info.subresource}` : "");
  const where = info.namespace ? ` in ${info.namespace}` : "";
  return `${info.verb === "watch" ? "watch" : info.verb} ${res}${info.name ? ` ${info.name}` : ""}${where}`;
}

function backoffOf(gaps: number[]): Verdict["backoff"] {
  if (gaps.length === 0) return "none";
  if (gaps.every((g) => g < 20)) return "hot-loop";
  if (gaps.length === 1) return "single";
  const ratios = gaps.slice(1).map((g, i) => g / Math.max(1, gaps[i]));
  if (ratios.every((r) => r >= 1.3)) return "exponential";
  if (ratios.every((r) => r > 0.75 && r < 1.3)) return "constant";
  return "irregular";
}

/** One verdict per injected failure that starts a sequence of tries (later tries of it are part of that verdict). */
export function judgeRetries(exchanges: Exchange[]): Verdict[] {
  const sorted = [...exchanges].sort((a, b) => a.startedAt - b.startedAt || (a.id ?? 0) - (b.id ?? 0));
  const used = new Set<Exchange>();
  const verdicts: Verdict[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const first = sorted[i];
    if (!first.injected || used.has(first) || !failed(first)) continue;
    const isWatch = first.info.verb === "watch";
    const sameRequest = (ex: Exchange) =>
      ex.client.userAgent === first.client.userAgent &&
      ex.request.method === first.request.method &&
      ex.request.path === first.request.path &&
      (isWatch ? ex.info.verb === "watch" || ex.info.verb === "list" : normQuery(ex.request.query) === normQuery(first.request.query));
    const chain: Exchange[] = [first];
    used.add(first);
    let relisted: boolean | null = isWatch ? false : null;
    for (let j = i + 1; j < sorted.length; j++) {
      const ex = sorted[j];
      const prev = chain[chain.length - 1];
      if (ex.startedAt - (prev.startedAt + prev.timing.totalMs) > RETRY_WINDOW_MS) break;
      if (!sameRequest(ex) || used.has(ex)) continue;
      chain.push(ex);
      used.add(ex);
      if (isWatch && ex.info.verb === "list") relisted = true;
      if (!failed(ex)) break;
    }
    const attempts: Attempt[] = chain.map((ex, k) => ({
      id: ex.id,
      startedAt: ex.startedAt,
      outcome: outcomeOf(ex),
      injected: ex.injected?.rule ?? null,
      gapMs: k === 0 ? null : Math.max(0, Math.round(ex.startedAt - (chain[k - 1].startedAt + chain[k - 1].timing.totalMs))),
    }));
    const gaps = attempts.slice(1).map((a) => a.gapMs!);
    let asked = 0;
    let honoured = 0;
    for (let k = 0; k + 1 < chain.length; k++) {
      const ra = retryAfterMs(chain[k]);
      if (ra === null) continue;
      asked++;
      if (gaps[k] >= ra * 0.9 - 50) honoured++; // the client measures from the response; allow the clock's slack
    }
    const last = chain[chain.length - 1];
    const lastFailed = failed(last);
    const timedOut = lastFailed && last.error?.code === "CLIENT_ABORTED";
    const outcome: Verdict["outcome"] = !lastFailed ? "succeeded" : timedOut ? "timed-out" : "gave-up";
    const elapsedMs = Math.round(last.startedAt + (lastFailed ? last.timing.totalMs : 0) - first.startedAt);
    const retries = chain.length - 1;
    const backoff = backoffOf(gaps);
    const failures = attempts.filter((a) => a.injected).map((a) => a.outcome);
    const counts = new Map<string, number>();
    for (const f of failures) counts.set(f, (counts.get(f) ?? 0) + 1);
    const what = [...counts].map(([o, n]) => (n > 1 ? `${o}×${n}` : o)).join(", ");
    const parts = [`${what} injected by ${first.injected.rule}`];
    if (isWatch) parts.push(relisted ? `relisted after ${durationText(gaps[attempts.findIndex((a, k) => k > 0 && chain[k].info.verb === "list") - 1] ?? 0)}` : retries ? "re-watched WITHOUT relisting" : "did not relist");
    else if (retries === 0) parts.push("no retry");
    else parts.push(`retried ${retries} time${retries === 1 ? "" : "s"} after ${gaps.map((g) => durationText(g)).join(", ")}${backoff === "exponential" ? " (exponential backoff)" : backoff === "hot-loop" ? " (NO backoff: a hot loop)" : backoff === "constant" ? " (constant)" : ""}`);
    const retryAfterHonoured = asked === 0 ? null : honoured === asked;
    if (asked > 0) parts.push(honoured === asked ? "Retry-After honoured" : `Retry-After IGNORED ${asked - honoured} of ${asked} times`);
    parts.push(
      outcome === "succeeded"
        ? `succeeded ${durationText(elapsedMs)} after the first failure`
        : outcome === "timed-out"
          ? `gave up waiting after ${durationText(last.timing.totalMs)} (its own timeout)`
          : `gave up after ${retries + 1} tr${retries ? "ies" : "y"}, ${durationText(elapsedMs)} after the first failure`,
    );
    verdicts.push({
      client: product(first.client.userAgent),
      request: describe(first),
      rule: first.injected.rule,
      attempts,
      retries,
      retryAfterHonoured,
      backoff,
      relisted,
      outcome,
      elapsedMs,
      line: `${product(first.client.userAgent)}  ${describe(first)}: ${parts.join("; ")}`,
    });
  }
  return verdicts;
}
