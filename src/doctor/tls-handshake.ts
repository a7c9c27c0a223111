// Step 4 proves the TLS connection clients make is sound: the handshake, the presented chain,
// verification against the kubeconfig's CA, names, validity dates, and the clock against the server's.
import https from "node:https";
import net from "node:net";
import tls, { type PeerCertificate } from "node:tls";
import { hostMismatchDetail, connectionInfo, UpstreamAgent, verifyMessage, type ConnectionInfo } from "../tls/upstream-agent.js";
import { adviceFor, classifyFailure } from "../proxy/failure-message.js";
import type { CertInfo, CheckResult } from "../types.js";
import { defaultPort } from "../kubeconfig/proxy-env.js";
import { hostOf } from "../url.js";
import { fail, pass, relative, skip, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const LATER = [5, 6, 7];
const SKEW_WARN_MS = 30_000;
const SOON_MS = 30 * 24 * 3600 * 1000;
const EXPIRY_CODES = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/**
 * Whether the leaf names `name`: the check kubewire's upstream agent applies (tls.checkServerIdentity
 * over the SANs; the subject CN is ignored, as Go's crypto/x509 does).
 */
export function sanMatches(name: string, san: string[]): boolean {
  const subjectaltname = san.map((s) => s.replace(/^IP:/, "IP Address:")).join(", ");
  return tls.checkServerIdentity(name, { subject: {}, subjectaltname } as unknown as PeerCertificate) === undefined;
}

interface Probe {
  info?: ConnectionInfo;
  date?: string;
  err?: unknown;
}

function get(opts: https.RequestOptions, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const req = https.request({ method: "GET", headers: { accept: "application/json", "user-agent": "kubewire-doctor" }, timeout: timeoutMs, ...opts }, (res) => {
      const info = connectionInfo(res.socket);
      res.resume();
      res.on("end", () => resolve({ info, date: res.headers.date }));
      res.on("error", (err) => resolve({ err }));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", (err) => resolve({ err }));
    req.end();
  });
}

function describeChain(chain: CertInfo[]): string {
  return `${chain.length} certificate${chain.length === 1 ? "" : "s"}: ${chain.map((c, i) => `[${i}] ${c.subject.replace(/\n/g, ", ")} (issuer ${c.issuer.replace(/\n/g, ", ")})`).join("; ")}`;
}

function clockCheck(date: string | undefined, at: number): { check: CheckResult; skewMs?: number } {
  const server = date ? Date.parse(date) : NaN;
  if (Number.isNaN(server)) return { check: skip("clock", "the server sent no Date header") };
  // Date has one-second resolution: allow for it
  const skew = at - server;
  const text = `this machine is ${Math.abs(skew) < 1500 ? "in step with" : `${(Math.abs(skew) / 1000).toFixed(0)}s ${skew > 0 ? "ahead of" : "behind"}`} the server's Date (${date})`;
  if (Math.abs(skew) > SKEW_WARN_MS) return { check: warn("clock", text, "synchronise this machine's clock (NTP): certificate and token validity depend on it"), skewMs: skew };
  return { check: pass("clock", text), skewMs: skew };
}

export const tlsHandshake: Step = {
  number: 4,
  name: "TLS",
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const server = ctx.server!;
    const upstream = ctx.upstream!;
    if (server.protocol !== "https:") return { checks: [skip("handshake", `${server.origin} is not https: no TLS to check`)] };
    const t = ctx.opts.timeoutMs;
    const host = hostOf(server);
    const port = defaultPort(server);
    const name = upstream.tls.servername ?? host;
    const nameOrigin = upstream.tls.servername ? "tls-server-name" : "the server's host";
    const base = server.pathname.replace(/\/$/, "");
    const agent = new UpstreamAgent({ tls: upstream.tls, proxyUrl: upstream.proxyUrl, connectTimeoutMs: t, tlsTimeoutMs: t, maxSockets: 1 });
    const probe = await get({ host, port, path: `${base}/version`, agent }, t);
    const at = Date.now();
    const info = probe.info;
    agent.destroy();
    const checks: CheckResult[] = [];
    let chain: CertInfo[] = info?.tls?.chain ?? [];
    if (probe.err) {
      const f = classifyFailure(probe.err, server.origin);
      const { code, message, phase } = f.error;
      if (f.chain.length === 0) {
        // no certificate seen: the handshake itself failed
        let detail = `${message} [${code}${phase ? `, ${phase}` : ""}]`;
        let fixText = adviceFor(code, f.error.proxy) ?? "check that the server's port speaks TLS";
        if (code === "ETIMEDOUT" && phase === "tls") {
          detail = `TCP connected to ${server.host}, but no TLS answer within ${t} ms: the port does not speak TLS`;
          fixText = "check the port in the kubeconfig's server: it is some other service (kube-apiserver usually listens on 6443 or 443)";
        } else if (code === "EPROTO" || /wrong version number|packet length too long|http request/i.test(message)) {
          detail = `${server.host} answered, but not with TLS (${message.split("\n")[0]})`;
          fixText = "the port speaks plain HTTP or another protocol: check the port, or use http:// if it is really a plain HTTP endpoint";
        } else if (code === "ECONNRESET") {
          detail = `${server.host} closed the connection during the TLS handshake`;
          fixText = "check that the port is the API server's, and any load balancer in between";
        }
        checks.push(fail("handshake", detail, fixText));
        return { checks, blocks: LATER };
      }
      chain = f.chain;
      checks.push(pass("handshake", `completed with ${server.host}; the certificate was then rejected`));
      checks.push(pass("chain", describeChain(chain)));
      const advice = adviceFor(code) ?? "fix the cluster's certificate-authority-data or the server certificate";
      const checkName = EXPIRY_CODES.has(code) ? "validity" : code === "ERR_TLS_CERT_ALTNAME_INVALID" ? "names" : "verification";
      let detail = message || verifyMessage(code);
      const leaf = chain[0];
      if (code === "CERT_HAS_EXPIRED") detail += `: current time ${new Date().toISOString()} is after ${leaf.notAfter}`;
      if (code === "CERT_NOT_YET_VALID") detail += `: current time ${new Date().toISOString()} is before ${leaf.notBefore}`;
      if (checkName === "verification") detail += `; leaf issuer ${leaf.issuer.replace(/\n/g, ", ")}; the kubeconfig's CA ${ctx.cluster?.["certificate-authority-data"] || ctx.cluster?.["certificate-authority"] ? "is another" : "is not set, so the system CAs were used"}`;
      checks.push(fail(checkName, detail, advice));
      // the Date header, over an unverified connection that sends no credentials, tells clock skew from expiry
      const insecure = await get({ host, port, path: `${base}/version`, agent: false, rejectUnauthorized: false, servername: net.isIP(name) ? undefined : name }, t);
      const clock = clockCheck(insecure.date, Date.now());
      if (checkName !== "verification") checks.push(pass("verification", "signed by the kubeconfig's CA (apart from the problem above)"));
      if (checkName !== "names") checks.push(namesCheck(name, nameOrigin, leaf));
      if (checkName !== "validity") checks.push(validityCheck(leaf));
      checks.push(clock.check);
      if (EXPIRY_CODES.has(code) && clock.skewMs !== undefined && Math.abs(clock.skewMs) <= SKEW_WARN_MS) {
        const v = checks.find((c) => c.name === "validity")!;
        v.fix = code === "CERT_HAS_EXPIRED" ? "renew the API server certificate (this machine's clock agrees with the server's, so the certificate really expired)" : "the server certificate's not-before is in the future on both clocks: reissue it";
      }
      return { checks, blocks: LATER };
    }
    const session = info?.tls;
    checks.push(pass("handshake", `${session?.protocol ?? "TLS"}, ${session?.cipher ?? "?"}${session?.alpn ? `, ALPN ${session.alpn}` : ""}, in ${(info?.tlsMs ?? 0).toFixed(1)} ms${upstream.proxyUrl ? " (through the proxy)" : ""}`));
    checks.push(chain.length ? pass("chain", describeChain(chain)) : warn("chain", "the server presented no certificate", "check the server's TLS setup"));
    if (!upstream.tls.verify) checks.push(warn("verification", "not verified: insecure-skip-tls-verify is set", "set certificate-authority-data to the cluster CA and remove insecure-skip-tls-verify"));
    else checks.push(pass("verification", upstream.tls.ca ? "verified against the kubeconfig's CA" : "verified against the system CAs (the kubeconfig sets no CA)"));
    if (chain[0]) {
      checks.push(namesCheck(name, nameOrigin, chain[0]));
      checks.push(validityCheck(chain[0]));
    }
    checks.push(clockCheck(probe.date, at).check);
    return { checks };
  },
};

function namesCheck(name: string, origin: string, leaf: CertInfo): CheckResult {
  const sans = leaf.san.join(", ") || "none";
  if (sanMatches(name, leaf.san)) return pass("names", `${name} (${origin}) is among the SANs: ${sans}`);
  return fail("names", `${hostMismatchDetail(name, leaf)} (${origin}; SANs: ${sans})`, "use a server address the certificate names, or set tls-server-name in the cluster entry to one of them");
}

function validityCheck(leaf: CertInfo): CheckResult {
  const now = Date.now();
  const from = Date.parse(leaf.notBefore);
  const to = Date.parse(leaf.notAfter);
  const span = `valid ${leaf.notBefore} to ${leaf.notAfter}`;
  if (to <= now) return fail("validity", `${span}: expired ${relative(to, now)}`, "renew the API server certificate, or check this machine's clock");
  if (from > now) return fail("validity", `${span}: not valid yet (${relative(from, now)})`, "check this machine's clock, or reissue the certificate");
  if (to - now < SOON_MS) return warn("validity", `${span}: expires ${relative(to, now)}`, "renew the API server certificate soon (kubeadm certs renew apiserver)");
  return pass("validity", `${span} (expires ${relative(to, now)})`);
}
