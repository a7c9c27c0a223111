// expiring-credentials: something the connection depends on expires within 14 days: the API
// server's certificate (or its CA) seen in the recording, or the kubeconfig's client certificate or token.
import type { CertInfo } from "../types.js";
import type { ExchangeSummary, SetRule } from "./lib/rule.js";
import { durationText, findingOf, iso } from "./lib/util.js";

export const WINDOW_MS = 14 * 86_400_000;

interface Expiring {
  what: string;
  notAfter: number;
  rows: ExchangeSummary[];
  advice: string;
}

function left(notAfter: number, now: number): string {
  return notAfter > now ? `expires in ${durationText(notAfter - now)}, at ${iso(notAfter)}` : `has expired since, at ${iso(notAfter)}`;
}

export const rule: SetRule = {
  kind: "expiring-credentials",
  severity: "warning",
  help: "a server certificate, client certificate or token that expires within 14 days",
  analyze({ rows, chains }, ctx) {
    const found: Expiring[] = [];
    const byChain = new Map<number, ExchangeSummary[]>();
    const byContext = new Map<string, ExchangeSummary[]>();
    for (const r of rows) {
      if (r.tlsChainId !== null) {
        let l = byChain.get(r.tlsChainId);
        if (!l) byChain.set(r.tlsChainId, (l = []));
        l.push(r);
      }
      let c = byContext.get(r.context);
      if (!c) byContext.set(r.context, (c = []));
      c.push(r);
    }
    for (const [id, used] of byChain) {
      const chain: CertInfo[] = chains.get(id) ?? [];
      let lastUse = -Infinity;
      for (const r of used) if (r.startedAt > lastUse) lastUse = r.startedAt;
      chain.forEach((cert, i) => {
        const notAfter = Date.parse(cert.notAfter);
        // expired before it was used: that is x509-expired's finding
        if (Number.isNaN(notAfter) || notAfter < lastUse || notAfter - ctx.now > WINDOW_MS) return;
        found.push({
          what: `the ${i === 0 ? "API server certificate" : "CA certificate"} ${cert.subject} of ${used[0].context}`,
          notAfter,
          rows: used,
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
      found.push({ what, notAfter: exp, rows: used, advice: facts.jwt ? `get a new token before then and put it in users[${facts.user}].user.token in ${facts.source}` : `renew the client certificate in users[${facts.user}].user.client-certificate-data in ${facts.source}` });
    }
    if (found.length === 0) return null;
    found.sort((a, b) => a.notAfter - b.notAfter);
    const all = [...new Map(found.flatMap((f) => f.rows).map((r) => [r.id, r])).values()].sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    const first = found[0];
    const message = `${found.length === 1 ? "One credential" : `${found.length} credentials`} the recorded traffic depends on expire within 14 days: ${first.what} ${left(first.notAfter, ctx.now)}.`;
    const evidence = found.map((f) => `${f.what} ${left(f.notAfter, ctx.now)} (used by ${f.rows.length} recorded exchanges)`);
    return { finding: findingOf(rule, all, message, evidence, found.map((f) => f.advice)), flagIds: [] };
  },
};
