// slow: exchanges far slower than the usual latency of their own verb and resource (same
// context): a stalled webhook, an overloaded API server, a namespace with trouble.
import type { ExchangeSummary, SetRule } from "./lib/rule.js";
import { describeRequest, durationText, findingOf, requests } from "./lib/util.js";

/** A group needs this many exchanges before its median means anything. */
export const MIN_BASELINE = 5;
/** Slow: above max(FACTOR × median, median + MARGIN_MS). */
export const FACTOR = 10;
export const MARGIN_MS = 1000;

function baselineKey(r: ExchangeSummary): string {
  return `${r.context}\u0000${r.verb}\u0000${r.group}\u0000${r.resource}\u0000${r.subresource}`;
}

function median(sorted: number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

export const rule: SetRule = {
  kind: "slow",
  severity: "warning",
  help: `far slower than usual for the same verb and resource (over ${FACTOR}x the median and ${durationText(MARGIN_MS)} more)`,
  analyze({ rows }) {
    const groups = new Map<string, ExchangeSummary[]>();
    for (const r of rows) {
      // watches and streams last by design; failures without a response are other kinds
      if (r.status === null || r.verb === "watch" || r.status === 101 || (r.subresource && r.subresource !== "status" && r.subresource !== "scale")) continue;
      const k = baselineKey(r);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = []));
      g.push(r);
    }
    const slow: ExchangeSummary[] = [];
    const evidence: string[] = [];
    let worst = { ms: 0, usual: 0 };
    for (const g of groups.values()) {
      if (g.length < MIN_BASELINE) continue;
      const usual = median(g.map((r) => r.durationMs).sort((a, b) => a - b));
      const limit = Math.max(usual * FACTOR, usual + MARGIN_MS);
      const over = g.filter((r) => r.durationMs > limit);
      if (over.length === 0) continue;
      slow.push(...over);
      const top = over.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
      if (top.durationMs > worst.ms) worst = { ms: top.durationMs, usual };
      const examples = over.slice(0, 5).map((r) => `#${r.id} ${durationText(r.durationMs)}`).join(", ");
      evidence.push(`${describeRequest(g[0])} (context ${g[0].context}): usually ${durationText(usual)} over ${g.length} exchanges; ${over.length} took longer than ${durationText(limit)}: ${examples}`);
    }
    if (slow.length === 0) return null;
    slow.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    const message = `${requests(slow.length)} took far longer than usual for their verb and resource (up to ${durationText(worst.ms)} where ${durationText(worst.usual)} is usual).`;
    const advice = [
      "open the slowest with kubewire show ID: its timing waterfall tells a slow connection (dns, connect, tls) from a slow API server (wait)",
      "a slow wait on writes often means an admission webhook: kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations and their timeoutSeconds",
      "a slow wait on reads from one namespace or resource points at that resource's size or an aggregated API; compare with kubewire stats",
    ];
    return { finding: findingOf(rule, slow, message, evidence.slice(0, 10), advice), flagIds: slow.map((r) => r.id) };
  },
};
