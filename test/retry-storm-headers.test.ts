// retry-storm asks for the Kubectl-Session and Retry-After headers (a JSON detail each in the store) only of
// requests whose attempts, every client run's together, make a burst: on random failures it finds exactly what
// it found reading every failure's headers (the rule as it was, kept here as the oracle), and asks for no others.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rule } from "../src/analyze/retry-storm.js";
import type { ExchangeSummary, RetryHeaders, SetSource } from "../src/analyze/lib/rule.js";
import { durationText, honoursRetryAfter, requestKey, retryAfterMs } from "../src/analyze/lib/util.js";

const START = Date.UTC(2026, 0, 1);
const ctx = { now: START, credentials: new Map() };

/** The rule before it asked for headers: every failure's session and Retry-After at hand. Returns its storm ids and schedules. */
function oracle(rows: ExchangeSummary[], headers: Map<number, RetryHeaders>): { ids: number[]; evidence: string[] } {
  const byKey = new Map<string, ExchangeSummary[]>();
  for (const r of rows) {
    if (r.errorCode === "CLIENT_TLS") continue;
    const key = `${requestKey(r)}\u0000${headers.get(r.id)!.session}`;
    byKey.set(key, [...(byKey.get(key) ?? []), r]);
  }
  const storm: ExchangeSummary[] = [];
  const evidence: string[] = [];
  for (const list of byKey.values()) {
    if (list.length < 5) continue;
    list.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    const bursts: ExchangeSummary[][] = [[list[0]]];
    for (let i = 1; i < list.length; i++) {
      if (list[i].startedAt - list[i - 1].startedAt > 30_000) bursts.push([]);
      bursts[bursts.length - 1].push(list[i]);
    }
    for (const b of bursts) {
      if (b.length < 5) continue;
      const gaps = b.slice(1).map((r, i) => r.startedAt - b[i].startedAt);
      let up = 0;
      for (let i = 1; i < gaps.length; i++) if (gaps[i] >= gaps[i - 1] * 1.3) up++;
      const growing = gaps.length >= 2 && up >= (gaps.length - 1) / 2 && gaps[gaps.length - 1] >= gaps[0] * 2;
      let told = b.length > 1;
      for (let i = 1; i < b.length && told; i++) {
        const asked = b[i - 1].status === 429 ? retryAfterMs(headers.get(b[i - 1].id)!.retryAfter, b[i - 1].startedAt) : null;
        if (asked === null || !honoursRetryAfter(b[i].startedAt - b[i - 1].startedAt, asked)) told = false;
      }
      if (growing || told) continue;
      storm.push(...b);
      evidence.push(`#${b[0].id} to #${b[b.length - 1].id}; gaps between attempts: ${gaps.slice(0, 10).map(durationText).join(", ")}${gaps.length > 10 ? ", ..." : ""}`);
    }
  }
  return { ids: storm.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id).map((r) => r.id), evidence };
}

// two requests, two client runs, mostly short gaps: enough storms, interleaved, and bursts that are none
const failure = fc.record({
  request: fc.constantFrom("/api/v1/namespaces/a/pods", "/apis/apps/v1/deployments"),
  session: fc.constantFrom("", "s1"),
  gapMs: fc.oneof(
    { arbitrary: fc.constantFrom(1_000, 2_000), weight: 4 }, // a steady schedule: no backoff
    { arbitrary: fc.integer({ min: 0, max: 8_000 }), weight: 2 },
    { arbitrary: fc.integer({ min: 25_000, max: 60_000 }), weight: 1 }, // around the 30 s that ends a burst
  ),
  status: fc.constantFrom(429, 500, 500, 503),
  retryAfter: fc.constantFrom(null, "1", "5"),
});

describe("retry-storm's headers", () => {
  it("finds the storms the rule found with every failure's headers, asking only for requests that make a burst", () => {
    let stormy = 0;
    fc.assert(
      fc.property(fc.array(failure, { minLength: 10, maxLength: 60, size: "max" }), (drawn) => {
        let at = START;
        const rows: ExchangeSummary[] = drawn.map((f, i) => ({
          id: i + 1, startedAt: (at += f.gapMs), method: "GET", path: f.request, query: "", verb: "list", resource: "pods", group: "", subresource: "",
          namespace: "", context: "dev", status: f.status, durationMs: 5, errorCode: null, bytesOut: 0, tlsChainId: null, userAgent: "client/1.0",
        }));
        const headers = new Map(drawn.map((f, i) => [i + 1, { session: f.session, retryAfter: f.retryAfter }]));
        const asked: number[] = [];
        const source = {
          failures: () => rows.map((r) => ({ ...r })),
          retryHeaders: (ids: number[]) => {
            asked.push(...ids);
            return new Map(ids.map((id) => [id, headers.get(id)!]));
          },
        } as unknown as SetSource;
        const found = rule.analyze(source, ctx);
        if (found) stormy++;
        const expected = oracle(rows.map((r) => ({ ...r })), headers);
        expect(found?.flagIds ?? []).toEqual(expected.ids);
        expect((found?.finding.evidence ?? []).map((e) => e.slice(e.indexOf("#")))).toEqual(expected.evidence.slice(0, 10).map((e) => e.slice(e.indexOf("#"))));
        // asked only for failures of a request with 5 attempts in a row, every run's together, no more than 30 s apart
        const burst = (path: string) => {
          let run = 0;
          let last = -Infinity;
          for (const r of rows.filter((x) => x.path === path)) {
            run = r.startedAt - last > 30_000 ? 1 : run + 1;
            last = r.startedAt;
            if (run >= 5) return true;
          }
          return false;
        };
        for (const id of new Set(asked)) expect(burst(rows[id - 1].path)).toBe(true);
        if (expected.ids.length > 0) expect(asked.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
    expect(stormy).toBeGreaterThan(20); // the draws do make storms (and runs that are none)
  });
});
