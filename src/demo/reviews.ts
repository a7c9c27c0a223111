// The review APIs, answered by the cluster's RBAC authorizer and token table: selfsubjectreviews
// (auth whoami), self/local/subject access reviews (auth can-i), selfsubjectrulesreviews and tokenreviews.
import type { RequestInfo } from "../types.js";
import type { ApiContext, Call, Obj } from "./api-context.js";
import type { ResourceDef } from "./discovery.js";
import { isStatus, readObject } from "./objects.js";
import { authorize, rulesFor, storedBindings, type Identity } from "./rbac.js";
import { sendJson, sendStatus } from "./respond.js";

export async function serveReview(ctx: ApiContext, { req, res, id, info, headers }: Call, def: ResourceDef): Promise<void> {
  const body = await readObject(req);
  if (isStatus(body)) return sendStatus(res, body, headers);
  const out: Obj = { kind: def.kind, apiVersion: `${def.group}/${def.version}`, metadata: { creationTimestamp: null } };
  const userInfo = (who: Identity): Obj => ({ username: who.username, groups: who.groups });
  const check = (who: Identity, spec: Obj): Obj => {
    const ra = spec.resourceAttributes as Obj | undefined;
    const nra = spec.nonResourceAttributes as Obj | undefined;
    const attrs: RequestInfo = ra
      ? { isResourceRequest: true, verb: ra.verb ?? "", apiPrefix: ra.group ? "apis" : "api", apiGroup: ra.group ?? "", apiVersion: ra.version ?? "", namespace: ra.namespace ?? "", resource: ra.resource ?? "", subresource: ra.subresource ?? "", name: ra.name ?? "" }
      : { isResourceRequest: false, verb: nra?.verb ?? "", apiPrefix: "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "" };
    const d = authorize(who, attrs, nra?.path ?? "", storedBindings(ctx.store));
    return d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed };
  };
  switch (def.name) {
    case "selfsubjectreviews":
      out.status = { userInfo: userInfo(id) };
      break;
    case "selfsubjectaccessreviews":
      out.spec = body.spec ?? {};
      out.status = check(id, out.spec);
      break;
    case "selfsubjectrulesreviews": {
      const namespace = String(body.spec?.namespace ?? "");
      out.spec = { namespace };
      out.status = { ...rulesFor(id, namespace), incomplete: false };
      break;
    }
    case "subjectaccessreviews":
    case "localsubjectaccessreviews": {
      out.spec = body.spec ?? {};
      if (def.name === "localsubjectaccessreviews") out.metadata.namespace = info.namespace;
      out.status = check({ username: String(out.spec.user ?? ""), groups: (out.spec.groups as string[]) ?? [] }, out.spec);
      break;
    }
    case "tokenreviews": {
      const token = String(body.spec?.token ?? "");
      const who = ctx.tokens.get(token);
      out.spec = body.spec ?? {};
      out.status = who ? { authenticated: true, user: userInfo(who), audiences: ["https://kubernetes.default.svc.cluster.local"] } : { user: {}, error: "[invalid bearer token, Token has been invalidated]" };
      break;
    }
  }
  sendJson(res, 201, out, headers);
}
