// retry-storm: the same failing request sent again and again by one client run in a short window
// without a growing backoff: it adds load to a struggling server and never succeeds. Shows the
// schedule observed. Not a storm: client-go's own bounded discovery retries, and 429s retried no
// sooner than Retry-After asked (throttled reports those as honoured).
import type { ExchangeSummary, RetryHeaders, SetRule } from "./lib/rule.js";
import { describeRequest, durationText, findingOf, honoursRetryAfter, pushTo, requestKey, requests, retryAfterMs } from "./lib/util.js";

/** At least this many failed attempts of one request... */
const MIN_ATTEMPTS = 5;
/** ...with no gap longer than this between them. */
const MAX_GAP_MS = 30_000;

/** kubectl and client-go programs (client-go's default user agent ends in "kubernetes/<commit>"). */
const CLIENT_GO = /^kubectl\/|^kubectl-dispatcher\/| kubernetes\/[0-9a-f]+$/;
/** API discovery: GET /api, /apis, /api/v1, /apis/GROUP/VERSION, /version. */
const DISCOVERY = /^\/(api|apis|api\/[^/]+|apis\/[^/]+\/[^/]+|version)\/?$/;

/**
 * A client that never got through TLS to kubewire has no request to repeat; client-go retries a
 * failed discovery a few times on its own (memcache.go), which no program of the user's controls.
 */
function counts(r: ExchangeSummary): boolean {
  if (r.errorCode === "CLIENT_TLS") return false;
  return !(r.method === "GET" && DISCOVERY.test(r.path) && CLIENT_GO.test(r.userAgent));
}

/** One client run's attempts at one request: kubectl names each run (Kubectl-Session); others are told apart by time alone. */
function runKey(r: ExchangeSummary, h: RetryHeaders | undefined): string {
  return `${requestKey(r)}\u0000${h?.session ?? ""}`;
}

/** Attempts (oldest first) split where more than MAX_GAP_MS passed between two. */
function burstsOf(list: ExchangeSummary[]): ExchangeSummary[][] {
  let burst: ExchangeSummary[] = [list[0]];
  const bursts: ExchangeSummary[][] = [];
  for (let i = 1; i < list.length; i++) {
    if (list[i].startedAt - list[i - 1].startedAt > MAX_GAP_MS) {
      bursts.push(burst);
      burst = [];
    }
    burst.push(list[i]);
  }
  bursts.push(burst);
  return bursts;
}

/**
 * The failures worth telling apart by client run: those of requests whose attempts, every run's together, make
 * a burst of MIN_ATTEMPTS (one run's burst lies within such a burst, as more attempts only shorten the gaps).
 * The rest cannot be a storm, so their headers (a JSON detail each) are never read. In the order given.
 */
function mayStorm(failures: ExchangeSummary[]): ExchangeSummary[] {
  const byRequest = new Map<string, ExchangeSummary[]>();
  for (const r of failures) pushTo(byRequest, requestKey(r), r);
  const keep = new Set<string>();
  for (const [key, list] of byRequest) {
    if (list.length < MIN_ATTEMPTS) continue;
    const sorted = [...list].sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    if (burstsOf(sorted).some((b) => b.length >= MIN_ATTEMPTS)) keep.add(key);
  }
  return keep.size === 0 ? [] : failures.filter((r) => keep.has(requestKey(r)));
}

/** Every retry of a 429 came no sooner than its Retry-After asked: the client waited as told. */
function waitedAsTold(burst: ExchangeSummary[], headers: Map<number, RetryHeaders>): boolean {
  for (let i = 1; i < burst.length; i++) {
    const asked = burst[i - 1].status === 429 ? retryAfterMs(headers.get(burst[i - 1].id)?.retryAfter ?? null, burst[i - 1].startedAt) : null;
    if (asked === null || !honoursRetryAfter(burst[i].startedAt - burst[i - 1].startedAt, asked)) return false;
  }
  return burst.length > 1;
}

/** True when the gaps grow like a backoff: each at least 1.3 times the one before, for most of them. */
function growing(gaps: number[]): boolean {
  if (gaps.length < 2) return false;
  let up = 0;
  for (let i = 1; i < gaps.length; i++) if (gaps[i] >= gaps[i - 1] * 1.3) up++;
  return up >= (gaps.length - 1) / 2 && gaps[gaps.length - 1] >= gaps[0] * 2;
}

export const rule: SetRule = {
  kind: "retry-storm",
  severity: "warning",
  help: `the same failing request repeated ${MIN_ATTEMPTS}+ times in a short window without a growing backoff`,
  analyze(source) {
    const candidates = mayStorm(source.failures(MIN_ATTEMPTS).filter(counts));
    const headers = source.retryHeaders(candidates.map((r) => r.id));
    const byKey = new Map<string, ExchangeSummary[]>();
    for (const r of candidates) pushTo(byKey, runKey(r, headers.get(r.id)), r);
    const storm: ExchangeSummary[] = [];
    const evidence: string[] = [];
    for (const list of byKey.values()) {
      if (list.length < MIN_ATTEMPTS) continue;
      list.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
      for (const b of burstsOf(list)) {
        if (b.length < MIN_ATTEMPTS) continue;
        const gaps = b.slice(1).map((r, i) => r.startedAt - b[i].startedAt);
        if (growing(gaps) || waitedAsTold(b, headers)) continue;
        storm.push(...b);
        const what = b[0].errorCode ?? String(b[0].status);
        const schedule = gaps.slice(0, 10).map(durationText).join(", ") + (gaps.length > 10 ? ", ..." : "");
        evidence.push(
          `${describeRequest(b[0])} (context ${b[0].context}): ${b.length} attempts failing with ${what} in ${durationText(b[b.length - 1].startedAt - b[0].startedAt)}, #${b[0].id} to #${b[b.length - 1].id}; gaps between attempts: ${schedule}`,
        );
      }
    }
    if (storm.length === 0) return null;
    storm.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    const message = `${requests(storm.length)} ${storm.length === 1 ? "was" : "were"} the same failing requests retried ${evidence.length === 1 ? "in one burst" : `in ${evidence.length} bursts`} without a growing backoff.`;
    const advice = [
      "retry with exponential backoff and jitter (client-go: wait.Backoff / retry.OnError; for 429 honour Retry-After), and cap the attempts",
      "do not retry errors that cannot succeed unchanged (401, 403, 404, 422, x509): fix their cause (see the other kinds above)",
      "a controller should requeue with its rate-limited workqueue rather than loop",
    ];
    return { finding: findingOf(rule, storm, message, evidence.slice(0, 10), advice), flagIds: storm.map((r) => r.id) };
  },
};
