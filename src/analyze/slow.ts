// slow: exchanges far slower than the usual latency of their own verb and resource (same
// context): a stalled webhook, an overloaded API server, a namespace with trouble.
import type { ExchangeSummary, SetRule } from "./lib/rule.js";
import { describeRequest, durationText, findingOf, requests } from "./lib/util.js";

/** A group needs this many exchanges before its median means anything. */
const MIN_BASELINE = 5;
/** Slow: above max(FACTOR × median, median + MARGIN_MS). */
const FACTOR = 10;
const MARGIN_MS = 1000;

export const rule: SetRule = {
  kind: "slow",
  severity: "warning",
  help: `far slower than usual for the same verb and resource (over ${FACTOR}x the median and ${durationText(MARGIN_MS)} more)`,
  analyze(source) {
    const slow: ExchangeSummary[] = [];
    const evidence: string[] = [];
    let worst = { ms: 0, usual: 0 };
    for (const b of source.baselines()) {
      // watches and streams last by design
      if (b.count < MIN_BASELINE || b.verb === "watch" || (b.subresource && b.subresource !== "status" && b.subresource !== "scale")) continue;
      const limit = Math.max(b.p50Ms * FACTOR, b.p50Ms + MARGIN_MS);
      // failures without a response are timeout, dns, refused...: not "slow"
      const over = source.slowerThan(b, limit).filter((r) => r.status !== null && r.status !== 101);
      if (over.length === 0) continue;
      slow.push(...over);
      const top = over.reduce((a, c) => (c.durationMs > a.durationMs ? c : a));
      if (top.durationMs > worst.ms) worst = { ms: top.durationMs, usual: b.p50Ms };
      const examples = over.slice(0, 5).map((r) => `#${r.id} ${durationText(r.durationMs)}`).join(", ");
      evidence.push(`${describeRequest({ ...b, path: "", namespace: "" })} (context ${b.context}): usually ${durationText(b.p50Ms)} over ${b.count} exchanges; ${over.length} took longer than ${durationText(limit)}: ${examples}`);
    }
    if (slow.length === 0) return null;
    slow.sort((a, c) => a.startedAt - c.startedAt || a.id - c.id);
    const message = `${requests(slow.length)} took far longer than usual for their verb and resource (up to ${durationText(worst.ms)} where ${durationText(worst.usual)} is usual).`;
    const advice = [
      "open the slowest with kubewire show ID: its timing waterfall tells a slow connection (dns, connect, tls) from a slow API server (wait)",
      "a slow wait on writes often means an admission webhook: kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations and their timeoutSeconds",
      "a slow wait on reads from one namespace or resource points at that resource's size or an aggregated API; compare with kubewire stats",
    ];
    return { finding: findingOf(rule, slow, message, evidence.slice(0, 10), advice), flagIds: slow.map((r) => r.id) };
  },
};
