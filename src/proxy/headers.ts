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

const NONE: ReadonlySet<string> = new Set();

/** Header names the client's Connection header nominates as hop-by-hop (`Connection: keep-alive, X-Foo`). */
function nominated(raw: string[]): ReadonlySet<string> {
  let out: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 10 || raw[i].toLowerCase() !== "connection") continue;
    out ??= new Set<string>();
    for (const name of raw[i + 1].split(",")) if (name.trim()) out.add(name.trim().toLowerCase());
  }
  if (!out) return NONE; // no Connection header (every HTTP/2 request): nothing nominated, nothing allocated
  out.delete("upgrade");
  return out;
}

/** How a context changes what goes upstream: client-go's DisableCompression sends no Accept-Encoding. */
export interface ForwardRules {
  upgrade?: boolean;
  disableCompression?: boolean;
}

/**
 * The credential headers kubewire adds. The kubeconfig's impersonation (as, as-groups...) gives way when
 * the client impersonates itself (`kubectl --as`), as kubectl's flag wins over the kubeconfig direct.
 */
function addCredentials(out: string[], credentials: Record<string, string>, clientImpersonates: boolean): void {
  for (const k of Object.keys(credentials)) {
    if (clientImpersonates && k.toLowerCase().startsWith("impersonate-")) continue;
    out.push(k, credentials[k]);
  }
}

/**
 * What goes upstream for a client's request, as raw pairs (Host first, case and order kept): its headers
 * minus hop-by-hop and pseudo ones, those its Connection header nominates, kubewire's replay marker and a
 * WebSocket bearer entry (kubewire's own token), then the upstream credentials. An upgrade (exec, attach,
 * port-forward) keeps the upgrade itself: `Connection: Upgrade` and the client's `Upgrade`.
 */
export function forwardedRequestHeaders(raw: string[], credentials: Record<string, string>, hostHeader: string, rules: ForwardRules = {}): string[] {
  const upgrade = !!rules.upgrade;
  const out: string[] = ["Host", hostHeader];
  const drop = nominated(raw);
  let connection = false;
  let clientImpersonates = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name.startsWith("impersonate-")) clientImpersonates = true;
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
    if ((HOP_BY_HOP.has(name) && !(upgrade && name === "upgrade")) || drop.has(name) || name === REPLAY_HEADER || name[0] === ":") continue;
    if (rules.disableCompression && name === "accept-encoding") continue;
    out.push(raw[i], raw[i + 1]);
  }
  addCredentials(out, credentials, clientImpersonates);
  return out;
}

/** forwardedRequestHeaders for an upgrade request. */
export function upgradeRequestHeaders(raw: string[], credentials: Record<string, string>, hostHeader: string): string[] {
  return forwardedRequestHeaders(raw, credentials, hostHeader, { upgrade: true });
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
