// Header rules in one place: what stays on one hop (RFC 9110 7.6.1, plus the client's proxy token),
// what an upgrade keeps, how a refused upgrade's answer is re-framed, and kubewire's own header names.

/** Request headers that stay on the client's hop: connection handling, and the client's credentials for kubewire. */
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade", "expect", "host", "authorization"]);

/** Response headers that describe one hop's connection or body framing; whoever writes the body frames it anew. */
export const RESPONSE_HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade", "content-length"]);

/** Carries the ID a replayed request replays; the proxy records it and never forwards it. */
export const REPLAY_HEADER = "x-kubewire-replay-of";

/**
 * How browsers (and some WebSocket clients) send a bearer token: one Sec-WebSocket-Protocol entry
 * `base64url.bearer.authorization.k8s.io.<token, base64url without padding>` (kube-apiserver's
 * websocket protocol authenticator reads and removes it).
 */
export const BEARER_PROTOCOL_PREFIX = "base64url.bearer.authorization.k8s.io.";

/** The entries of a Sec-WebSocket-Protocol header (one value or several), trimmed, empty ones dropped. */
export function protocolEntries(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

/** Header names the client's Connection header nominates as hop-by-hop (`Connection: keep-alive, X-Foo`). */
function nominated(raw: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== "connection") continue;
    for (const name of raw[i + 1].split(",")) if (name.trim()) out.add(name.trim().toLowerCase());
  }
  out.delete("upgrade");
  return out;
}

/**
 * The headers a request carries upstream, case and order as the client sent them: hop-by-hop ones
 * dropped (those of HOP_BY_HOP and those the Connection header nominates), kubewire's own
 * (REPLAY_HEADER), bearer entries of Sec-WebSocket-Protocol (they authenticate the client to
 * kubewire, never to the API server), then the upstream credentials. An upgrade (exec, attach,
 * port-forward) keeps the upgrade itself: `Connection: Upgrade` and the client's `Upgrade`.
 */
export function forwardedRequestHeaders(raw: string[], credentials: Record<string, string>, hostHeader: string, upgrade = false): string[] {
  const out: string[] = ["Host", hostHeader];
  const drop = nominated(raw);
  let connection = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (upgrade && name === "connection") {
      if (!connection) out.push(raw[i], "Upgrade");
      connection = true;
      continue;
    }
    if (name === "sec-websocket-protocol") {
      const kept = protocolEntries(raw[i + 1]).filter((p) => !p.startsWith(BEARER_PROTOCOL_PREFIX));
      if (kept.length) out.push(raw[i], kept.join(", "));
      continue;
    }
    if ((HOP_BY_HOP.has(name) && !(upgrade && name === "upgrade")) || drop.has(name) || name === REPLAY_HEADER) continue;
    out.push(raw[i], raw[i + 1]);
  }
  for (const [k, v] of Object.entries(credentials)) out.push(k, v);
  return out;
}

/** forwardedRequestHeaders for an upgrade request. */
export function upgradeRequestHeaders(raw: string[], credentials: Record<string, string>, hostHeader: string): string[] {
  return forwardedRequestHeaders(raw, credentials, hostHeader, true);
}

/** A response's headers minus those of RESPONSE_HOP_BY_HOP and those its Connection header nominates. */
export function endToEndResponseHeaders(raw: string[]): string[] {
  const drop = nominated(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!RESPONSE_HOP_BY_HOP.has(name) && !drop.has(name)) out.push(raw[i], raw[i + 1]);
  }
  return out;
}
