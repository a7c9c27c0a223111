// Who sent a request, as kube-apiserver's authenticators decide it: a verified client certificate
// (CN and O), a bearer token or basic credentials the cluster knows; anonymous on public paths only.
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Identity } from "./rbac.js";

/** The paths anyone may read without credentials (system:public-info-viewer). */
export const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version", "/version/"]);
export const ANONYMOUS: Identity = { username: "system:anonymous", groups: ["system:unauthenticated"] };

/** The identity of the request, "invalid" for credentials the cluster does not know, undefined for none. */
export function authenticate(req: IncomingMessage, tokens: Map<string, Identity>, basic: Map<string, Identity>): Identity | "invalid" | undefined {
  const socket = req.socket as TLSSocket;
  if (socket.authorized) {
    const peer = socket.getPeerCertificate?.();
    const cn = peer?.subject?.CN;
    if (cn) {
      const o = peer.subject.O;
      const orgs = Array.isArray(o) ? o : o ? [o] : [];
      return { username: String(cn), groups: [...orgs.map(String), "system:authenticated"] };
    }
  }
  const auth = req.headers.authorization;
  if (!auth) return undefined;
  const [scheme, value = ""] = auth.split(" ", 2);
  if (scheme.toLowerCase() === "bearer") return tokens.get(value.trim()) ?? "invalid";
  if (scheme.toLowerCase() === "basic") return basic.get(Buffer.from(value, "base64").toString("utf8")) ?? "invalid";
  return "invalid";
}
