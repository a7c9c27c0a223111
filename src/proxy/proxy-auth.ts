// Decides whether a client may use the proxy: the per-run bearer token from the generated kubeconfig
// (in Authorization, or for a WebSocket upgrade in a Sec-WebSocket-Protocol bearer entry, compared
// in constant time) or a client certificate from the local CA.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { BEARER_PROTOCOL_PREFIX, protocolEntries } from "./headers.js";

export type ProxyAuthResult = { ok: true } | { ok: false; reason: string };

/**
 * The bearer tokens a WebSocket upgrade carries in Sec-WebSocket-Protocol, as kube-apiserver reads
 * them: only on `Connection: Upgrade` with `Upgrade: websocket`, base64url without padding.
 */
export function protocolBearerTokens(req: IncomingMessage): string[] {
  const connection = String(req.headers.connection ?? "").toLowerCase();
  if (!connection.split(",").some((t) => t.trim() === "upgrade") || String(req.headers.upgrade ?? "").toLowerCase() !== "websocket") return [];
  return protocolEntries(req.headers["sec-websocket-protocol"])
    .filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))
    .map((p) => p.slice(BEARER_PROTOCOL_PREFIX.length))
    .filter((b64) => /^[A-Za-z0-9_-]+$/.test(b64))
    .map((b64) => Buffer.from(b64, "base64url").toString("utf8"));
}

export function makeProxyAuth(token: string): (req: IncomingMessage) => ProxyAuthResult {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  const expected = digest(`Bearer ${token}`);
  const matches = (header: string) => timingSafeEqual(digest(header), expected);
  // A keep-alive connection that proved the token once is not hashed again for the same header.
  const proven = new WeakMap<object, string>();
  return (req) => {
    const socket = req.socket as TLSSocket;
    const header = req.headers.authorization;
    if (header !== undefined && proven.get(socket) === header) return { ok: true };
    if (socket.authorized === true && socket.getPeerCertificate?.()?.raw) return { ok: true };
    if (header && matches(header)) {
      proven.set(socket, header);
      return { ok: true };
    }
    const fromProtocol = protocolBearerTokens(req);
    if (fromProtocol.some((t) => matches(`Bearer ${t}`))) return { ok: true };
    if (header || fromProtocol.length) return { ok: false, reason: "wrong proxy token: the client sent credentials that are not this kubewire run's token" };
    return { ok: false, reason: "no credentials: this client did not send the proxy token" };
  };
}
