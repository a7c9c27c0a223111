// Reads a TLS peer's certificate chain into CertInfo records (leaf first).
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from "node:tls";
import type { CertInfo, TlsSession } from "../types.js";

function dn(fields: Record<string, string | string[]> | undefined): string {
  if (!fields) return "";
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join("+") : v}`)
    .join(", ");
}

function toIso(date: string): string {
  const t = Date.parse(date);
  return Number.isNaN(t) ? date : new Date(t).toISOString();
}

export function certInfo(cert: PeerCertificate): CertInfo {
  return {
    subject: dn(cert.subject as unknown as Record<string, string>),
    issuer: dn(cert.issuer as unknown as Record<string, string>),
    san: (cert.subjectaltname ?? "")
      .split(", ")
      .filter((s) => s !== "")
      .map((s) => s.replace(/^IP Address:/, "IP:")),
    notBefore: toIso(cert.valid_from),
    notAfter: toIso(cert.valid_to),
    serial: cert.serialNumber ?? "",
    sha256: (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase(),
  };
}

/** The whole chain the peer presented, leaf first, without repeating a self-signed root. */
export function peerChain(socket: TLSSocket): CertInfo[] {
  const chain: CertInfo[] = [];
  let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(certInfo(cert));
    cert = cert.issuerCertificate;
  }
  return chain;
}

export function tlsSession(socket: TLSSocket, chain: CertInfo[]): TlsSession {
  const cipher = socket.getCipher?.();
  return {
    protocol: socket.getProtocol?.() ?? null,
    cipher: cipher?.name ?? null,
    alpn: typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : null,
    resumed: socket.isSessionReused?.() ?? false,
    chain,
  };
}
