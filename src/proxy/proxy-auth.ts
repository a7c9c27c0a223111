// Decides whether a client may use the proxy, and as whom: one of the run's bearer tokens from the
// generated kubeconfig (one per kubeconfig user entry; in Authorization, or for a WebSocket upgrade
// in a Sec-WebSocket-Protocol bearer entry, found by its SHA-256 digest) or a client certificate from
// the local CA (the listener's first identity).
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { TLSSocket } from "node:tls";
import { BEARER_PROTOCOL_PREFIX, protocolEntries } from "./headers.js";

/** What a proxy-token check reads of a request: its headers, its socket and (HTTP/2) its stream. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  socket: unknown;
  stream?: { session?: object };
}

/** `identity`: the index of the token the client proved (0 for a local-CA client certificate). */
export type ProxyAuthResult = { ok: true; identity: number } | { ok: false; reason: string };

/**
 * The bearer tokens a WebSocket upgrade carries in Sec-WebSocket-Protocol, as kube-apiserver reads
 * them: only on `Connection: Upgrade` with `Upgrade: websocket`, base64url without padding.
 */
export function protocolBearerTokens(req: { headers: IncomingHttpHeaders }): string[] {
  const connection = String(req.headers.connection ?? "").toLowerCase();
  if (!connection.split(",").some((t) => t.trim() === "upgrade") || String(req.headers.upgrade ?? "").toLowerCase() !== "websocket") return [];
  return protocolEntries(req.headers["sec-websocket-protocol"])
    .filter((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))
    .map((p) => p.slice(BEARER_PROTOCOL_PREFIX.length))
    .filter((b64) => /^[A-Za-z0-9_-]+$/.test(b64))
    .map((b64) => Buffer.from(b64, "base64url").toString("utf8"));
}

/**
 * tokens[i] admits a client as identity i. A presented value is looked up by its SHA-256 digest, so
 * the time taken says nothing about how much of a token a guess got right.
 */
export function makeProxyAuth(tokens: string | string[]): (req: AuthRequest) => ProxyAuthResult {
  const digest = (value: string) => createHash("sha256").update(value).digest("hex");
  const expected = new Map<string, number>();
  (Array.isArray(tokens) ? tokens : [tokens]).forEach((t, i) => {
    if (!expected.has(digest(`Bearer ${t}`))) expected.set(digest(`Bearer ${t}`), i);
  });
  const match = (header: string) => expected.get(digest(header));
  // A connection that proved a token once is not hashed again for the same header: keyed by the
  // HTTP/2 session (an h2 compat request's socket is a new proxy object per stream) or the socket.
  const proven = new WeakMap<object, { header: string; result: ProxyAuthResult }>();
  return (req) => {
    const header = req.headers.authorization;
    const connection = (req.stream?.session ?? req.socket) as object;
    const known = proven.get(connection);
    if (header !== undefined && known?.header === header) return known.result;
    if (header) {
      const identity = match(header);
      if (identity !== undefined) {
        const result: ProxyAuthResult = { ok: true, identity };
        proven.set(connection, { header, result });
        return result;
      }
    }
    const fromProtocol = protocolBearerTokens(req);
    for (const t of fromProtocol) {
      const identity = match(`Bearer ${t}`);
      if (identity !== undefined) return { ok: true, identity };
    }
    const socket = req.socket as TLSSocket;
    if (socket.authorized === true && socket.getPeerCertificate?.()?.raw) return { ok: true, identity: 0 };
    if (header || fromProtocol.length) return { ok: false, reason: "wrong proxy token: the client sent credentials that are not this kubewire run's token" };
    return { ok: false, reason: "no credentials: this client did not send the proxy token" };
  };
}
