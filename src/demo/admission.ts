// The filter chain in front of every handler, in kube-apiserver's order: authentication,
// impersonation, priority-and-fairness headers, the throttling failure namespace, then RBAC authorization.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../types.js";
import { parseRequestInfo } from "../proxy/request-info.js";
import type { ApiContext } from "./api-context.js";
import { ANONYMOUS, authenticate, PUBLIC_PATHS } from "./authentication.js";
import { scriptedBehaviour } from "./failure-namespaces.js";
import { impersonate } from "./impersonation.js";
import { authorize, forbiddenMessage, storedBindings, type Identity } from "./rbac.js";
import * as st from "./status.js";

export type Admitted = { ok: true; id: Identity; info: RequestInfo; url: URL; headers: Record<string, string> };
/** Refused: a Status to send, or a throttle answer (429, text/plain, Retry-After among the headers). */
export type Refused = { ok: false; status: st.Status | { throttled: string }; headers: Record<string, string> };

export class Admission {
  /** flow schema / priority level uids, per cluster as on a real one */
  private readonly apf = {
    exempt: { fs: randomUUID(), pl: randomUUID() },
    global: { fs: randomUUID(), pl: randomUUID() },
    probes: { fs: randomUUID(), pl: randomUUID() },
  };

  constructor(private readonly ctx: ApiContext) {}

  private apfHeaders(id: Identity, path: string): Record<string, string> {
    const flow = PUBLIC_PATHS.has(path) && id.username === "system:anonymous" ? this.apf.probes : id.groups.includes("system:masters") ? this.apf.exempt : this.apf.global;
    return { "X-Kubernetes-Pf-Flowschema-Uid": flow.fs, "X-Kubernetes-Pf-Prioritylevel-Uid": flow.pl };
  }

  /** Authentication and authorization shared by plain and upgrade requests. */
  admit(req: IncomingMessage): Admitted | Refused {
    this.ctx.countRequest();
    const url = new URL(req.url ?? "/", "https://demo.invalid");
    const headers: Record<string, string> = { "Audit-Id": randomUUID(), "Cache-Control": "no-cache, private" };
    let id = authenticate(req, this.ctx.tokens, this.ctx.basic);
    if (id === "invalid" || (id === undefined && !PUBLIC_PATHS.has(url.pathname))) return { ok: false, status: st.unauthorized(), headers };
    id ??= ANONYMOUS;
    const acting = impersonate(req, id);
    if (!("username" in acting)) return { ok: false, status: acting, headers };
    id = acting;
    Object.assign(headers, this.apfHeaders(id, url.pathname));
    const info = parseRequestInfo(req.method ?? "GET", url.pathname, url.search.slice(1));
    const scripted = info.isResourceRequest ? scriptedBehaviour(info.namespace) : undefined;
    if (scripted?.kind === "throttle") return { ok: false, status: { throttled: scripted.text }, headers: { ...headers, "Retry-After": String(scripted.retryAfterSeconds) } };
    const decision = id === ANONYMOUS && PUBLIC_PATHS.has(url.pathname) ? { allowed: true } : authorize(id, info, url.pathname, storedBindings(this.ctx.store));
    if (!decision.allowed) {
      const name = info.isResourceRequest ? info.name : "";
      return { ok: false, status: st.forbidden(info.apiGroup, info.isResourceRequest ? info.resource : "", name, forbiddenMessage(id, info, url.pathname)), headers: { ...headers, "X-Content-Type-Options": "nosniff" } };
    }
    return { ok: true, id, info, url, headers };
  }
}
