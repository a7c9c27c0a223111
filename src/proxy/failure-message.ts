// Words for an upstream failure: classifies the error (code and phase) and writes the
// one-line `kubewire:` explanation that kubectl shows verbatim from a text/plain 502.
import { hostOf } from "../url.js";
import type { CertInfo, ExchangeError } from "../types.js";
import { UpstreamError } from "../tls/upstream-agent.js";

const PHASE_OF_CODE: Record<string, string> = {
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  ECONNREFUSED: "connect",
  EHOSTUNREACH: "connect",
  ENETUNREACH: "connect",
};

export interface ClassifiedFailure {
  error: ExchangeError;
  chain: CertInfo[];
}

export function classifyFailure(err: unknown, target: string): ClassifiedFailure {
  const e = err as NodeJS.ErrnoException & { phase?: string };
  if (e instanceof UpstreamError) {
    return { error: { code: e.code, message: e.message, phase: e.phase, ...(e.proxy ? { proxy: e.proxy } : {}) }, chain: e.chain };
  }
  const code = e?.code ?? "EUPSTREAM";
  const phase = e?.phase ?? PHASE_OF_CODE[code] ?? (code === "ECONNRESET" ? "headers" : "connect");
  let message = e?.message ?? String(err);
  if (code === "ENOTFOUND") message = `lookup ${hostOf(target)}: no such host`;
  else if (code === "ECONNREFUSED") message = `dial ${hostPort(target)}: connection refused`;
  else if (code === "ECONNRESET") message = `connection to ${hostPort(target)} was reset by the API server`;
  return { error: { code, message, phase }, chain: [] };
}

function hostPort(target: string): string {
  try {
    const u = new URL(target);
    return `${u.hostname}:${u.port || "443"}`;
  } catch {
    return target;
  }
}

const ADVICE: Record<string, string> = {
  CERT_HAS_EXPIRED: "renew the API server certificate, or check this machine's clock",
  CERT_NOT_YET_VALID: "check this machine's clock, or wait until the certificate is valid",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "set certificate-authority(-data) of the cluster in your kubeconfig to the CA that signed the server certificate",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "set certificate-authority(-data) of the cluster in your kubeconfig to the CA that signed the server certificate",
  UNABLE_TO_GET_ISSUER_CERT: "the server sends an incomplete chain: add the intermediate certificate on the server, or the full chain to certificate-authority-data",
  SELF_SIGNED_CERT_IN_CHAIN: "put the self-signed root in the cluster's certificate-authority-data",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server presents a self-signed certificate: put it in the cluster's certificate-authority-data",
  ERR_TLS_CERT_ALTNAME_INVALID: "use a server address the certificate names, or set tls-server-name in the cluster entry",
  ECONNREFUSED: "is the API server running, and are the host and port in the kubeconfig's server right?",
  ENOTFOUND: "check the host name in the kubeconfig's server, and this machine's DNS",
  ETIMEDOUT: "check that the API server is reachable from here (firewall, VPN, proxy)",
  ECONNRESET: "the API server or a middlebox closed the connection; check load balancers and proxies in between",
};

/** The fix when what failed was reaching the kubeconfig's proxy-url, not the API server. */
const PROXY_ADVICE: Record<string, string> = {
  ECONNREFUSED: "is the proxy running, and are the host and port of the cluster's proxy-url right? Without a proxy, remove proxy-url from the cluster entry",
  ENOTFOUND: "check the host name in the cluster's proxy-url, and this machine's DNS",
  ETIMEDOUT: "check that the proxy in the cluster's proxy-url is reachable from here",
  ECONNRESET: "the proxy closed the connection: check its logs and that it allows CONNECT to the API server's port",
  PROXY_CONNECT: "the proxy would not tunnel to the API server: check that it allows CONNECT to that host and port, and that it can reach it",
};

/** The concrete fix for a failure code (reaching the proxy-url when `proxy` is set), when kubewire knows one. */
export function adviceFor(code: string, proxy?: string): string | undefined {
  return proxy ? PROXY_ADVICE[code] : ADVICE[code];
}

function describeCert(c: CertInfo): string {
  return `subject ${c.subject}, issuer ${c.issuer}, valid ${c.notBefore} to ${c.notAfter}, SANs ${c.san.join(" ") || "none"}`;
}

/** The one-line explanation sent to the client in a 502 text/plain body. */
export function failureText(f: ClassifiedFailure, target: string): string {
  const { code, message, phase, proxy } = f.error;
  const via = proxy ? ` through the proxy ${proxy} (the cluster's proxy-url)` : "";
  const parts = [`kubewire: cannot reach the API server ${target}${via}: ${message} [${code}${phase ? `, ${phase}` : ""}]`];
  if (f.chain[0]) {
    let cert = `server certificate: ${describeCert(f.chain[0])}`;
    if (code === "CERT_HAS_EXPIRED") cert += `; current time ${new Date().toISOString()} is after ${f.chain[0].notAfter}`;
    if (code === "CERT_NOT_YET_VALID") cert += `; current time ${new Date().toISOString()} is before ${f.chain[0].notBefore}`;
    parts.push(cert);
  }
  const advice = adviceFor(code, proxy);
  if (advice) parts.push(`fix: ${advice}`);
  return parts.join(" -- ");
}
