// Decides whether a client may use the proxy: the per-run bearer token from the
// generated kubeconfig (compared in constant time) or a client certificate from the local CA.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

export type ProxyAuthResult = { ok: true } | { ok: false; reason: string };

export function makeProxyAuth(token: string): (req: IncomingMessage) => ProxyAuthResult {
  const expected = createHash("sha256").update(`Bearer ${token}`).digest();
  // A keep-alive connection that proved the token once is not hashed again for the same header.
  const proven = new WeakMap<object, string>();
  return (req) => {
    const socket = req.socket as TLSSocket;
    const header = req.headers.authorization;
    if (header !== undefined && proven.get(socket) === header) return { ok: true };
    if (socket.authorized === true && socket.getPeerCertificate?.()?.raw) return { ok: true };
    if (!header) return { ok: false, reason: "no credentials: this client did not send the proxy token" };
    const given = createHash("sha256").update(header).digest();
    if (timingSafeEqual(given, expected)) {
      proven.set(socket, header);
      return { ok: true };
    }
    return { ok: false, reason: "wrong proxy token: the client sent credentials that are not this kubewire run's token" };
  };
}
