// expiring-credentials: something the connection depends on expires within 14 days: the API
// server's certificate (or its CA) seen in the recording, or the kubeconfig's client certificate or token.
import type { CertInfo, Finding } from "../types.js";
import type { ChainUse, SetRule } from "./lib/rule.js";
import { dedupe, durationText, iso, MAX_IDS } from "./lib/util.js";

const WINDOW_MS = 14 * 86_400_000;

interface Expiring {
  what: string;
  notAfter: number;
  context: string;
  used: { count: number; firstSeen: number; lastSeen: number; ids: number[] };

  advice: string;
}

function left(notAfter: number, now: number): string {
  return notAfter > now ? `expires in ${durationText(notAfter - now)}, at ${iso(notAfter)}` : `has expired since, at ${iso(notAfter)}`;
}

export const rule: SetRule = {
  kind: "expiring-credentials",
  severity: "warning",
  help: "a server certificate, client certificate or token that expires within 14 days",
  analyze(source, ctx) {
    const found: Expiring[] = [];
    const uses = source.chains();
    const byContext = new Map<string, Expiring["used"]>();
    const usedOf = (use: ChainUse): Expiring["used"] => ({ count: use.count(), firstSeen: use.firstSeen, lastSeen: use.lastSeen, ids: use.ids });
    for (const use of uses) {
      const prev = byContext.get(use.context);
      // per context, for kubeconfig credentials: counted only if one of them is expiring
      const lazy = {
        get count() { return (prev?.count ?? 0) + use.count(); },
        firstSeen: Math.min(prev?.firstSeen ?? Infinity, use.firstSeen),
        lastSeen: Math.max(prev?.lastSeen ?? -Infinity, use.lastSeen),
        ids: [...(prev?.ids ?? []), ...use.ids].sort((a, b) => a - b).slice(0, MAX_IDS),
      };
      byContext.set(use.context, lazy);
      use.chain.forEach((cert: CertInfo, i) => {
        const notAfter = Date.parse(cert.notAfter);
        // expired before it was used: that is x509-expired's finding
        if (Number.isNaN(notAfter) || notAfter < use.lastSeen || notAfter - ctx.now > WINDOW_MS) return;
        found.push({
          what: `the ${i === 0 ? "API server certificate" : "CA certificate"} ${cert.subject} of context "${use.context}"`,
          notAfter,
          context: use.context,
          used: usedOf(use),
          advice: i === 0 ? "renew the API server certificate before it expires (kubeadm: kubeadm certs check-expiration, kubeadm certs renew apiserver)" : `renew the CA ${cert.subject} and distribute the new one to every kubeconfig's certificate-authority-data`,
        });
      });
    }
    for (const [context, used] of byContext) {
      const facts = ctx.credentials.get(context);
      if (!facts) continue;
      const exp = facts.jwt?.exp ?? (facts.cert ? Date.parse(facts.cert.notAfter) : undefined);
      if (exp === undefined || Number.isNaN(exp) || exp <= ctx.now || exp - ctx.now > WINDOW_MS) continue;
      const what = facts.jwt ? `the bearer token (JWT for ${facts.jwt.sub ?? "an unknown subject"}) of context "${context}"` : `the client certificate ${facts.cert!.subject} of context "${context}"`;
      found.push({ what, notAfter: exp, context, used, advice: facts.jwt ? `get a new token before then and put it in users[${facts.user}].user.token in ${facts.source}` : `renew the client certificate in users[${facts.user}].user.client-certificate-data in ${facts.source}` });
    }
    if (found.length === 0) return null;
    found.sort((a, b) => a.notAfter - b.notAfter);
    const first = found[0];
    const message = `${found.length === 1 ? "One credential the recorded traffic depends on expires" : `${found.length} credentials the recorded traffic depends on expire`} within 14 days: ${first.what} ${left(first.notAfter, ctx.now)}.`;
    const evidence = found.map((f) => `${f.what} ${left(f.notAfter, ctx.now)} (used by ${f.used.count} recorded exchanges)`);
    // count each context's exchanges once
    const perContext = new Map(found.map((f) => [f.context, f.used]));
    const all = [...perContext.values()];
    const finding: Finding = {
      kind: rule.kind,
      severity: rule.severity,
      count: all.reduce((n, u) => n + u.count, 0),
      firstSeen: iso(Math.min(...all.map((u) => u.firstSeen))),
      lastSeen: iso(Math.max(...all.map((u) => u.lastSeen))),
      requestIds: [...new Set(all.flatMap((u) => u.ids))].sort((a, b) => a - b).slice(0, MAX_IDS),
      message,
      evidence: dedupe(evidence),
      advice: dedupe(found.map((f) => f.advice)),
    };
    return { finding, flagIds: [] };
  },
};
