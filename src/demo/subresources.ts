// Subresources of an object: pods/log, serviceaccounts/token (a TokenRequest the cluster then
// accepts), status, scale, and exec/attach asked without an upgrade.
import type { ApiContext, Call, Obj } from "./api-context.js";
import { updateObject, patchObject } from "./crud.js";
import { findResource, type ResourceDef } from "./discovery.js";
import { serveLogs } from "./logs.js";
import { answerObject, isStatus, readObject, storeKey } from "./objects.js";
import { sendJson, sendStatus } from "./respond.js";
import * as st from "./status.js";
import { mergePatch, type KObject } from "./store.js";
import { serviceAccountJwt } from "./tokens.js";

export async function serveSubresource(ctx: ApiContext, call: Call, def: ResourceDef): Promise<void> {
  const { req, res, info, url, headers } = call;
  const base = findResource(def.group, def.version, info.resource)!;
  const key = storeKey(base);
  const ns = base.namespaced ? info.namespace : "";
  const o = ctx.store.get(key, ns, info.name);
  if (!o) return sendStatus(res, st.notFound(base.group, base.name, info.name), headers);
  switch (info.subresource) {
    case "log": {
      const containers: Obj[] = (o.spec as Obj)?.containers ?? [];
      const container = url.searchParams.get("container") ?? "";
      if (container && !containers.some((c) => c.name === container)) {
        return sendStatus(res, st.badRequest(`container ${container} is not valid for pod ${info.name}`), headers);
      }
      if (!container && containers.length > 1) {
        return sendStatus(res, st.badRequest(`a container name must be specified for pod ${info.name}, choose one of: [${containers.map((c) => c.name).join(" ")}]`), headers);
      }
      const tail = url.searchParams.get("tailLines");
      return serveLogs(res, o, {
        tailLines: tail === null ? undefined : Number(tail),
        timestamps: url.searchParams.get("timestamps") === "true",
        follow: url.searchParams.get("follow") === "true",
        track: ctx.track,
      }, headers);
    }
    case "token": {
      // serviceaccounts/token: a TokenRequest for the service account, answered with a token the cluster now accepts
      const body = await readObject(req);
      if (isStatus(body)) return sendStatus(res, body, headers);
      const spec = ((body as Obj).spec ?? {}) as Obj;
      const seconds = Number(spec.expirationSeconds ?? 3600) || 3600;
      const token = serviceAccountJwt(info.namespace, info.name, seconds, false);
      ctx.tokens.set(token, { username: `system:serviceaccount:${info.namespace}:${info.name}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${info.namespace}`, "system:authenticated"] });
      return sendJson(res, 201, {
        kind: "TokenRequest",
        apiVersion: "authentication.k8s.io/v1",
        metadata: { name: info.name, namespace: info.namespace, creationTimestamp: null },
        spec: { audiences: spec.audiences ?? ["https://kubernetes.default.svc.cluster.local"], expirationSeconds: seconds, boundObjectRef: spec.boundObjectRef ?? null },
        status: { token, expirationTimestamp: new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z") },
      }, headers);
    }
    case "exec":
    case "attach":
      return sendStatus(res, st.badRequest("Upgrade request required"), headers);
    case "status":
      if (info.verb === "get") return answerObject(call, base, o, 200);
      return info.verb === "update" ? updateObject(ctx, call, base) : patchObject(ctx, call, base);
    case "scale": {
      const scale = (d: KObject): Obj => ({
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        metadata: { name: d.metadata.name, namespace: d.metadata.namespace, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: d.metadata.creationTimestamp },
        spec: { replicas: (d.spec as Obj)?.replicas ?? 0 },
        status: { replicas: (d.status as Obj)?.replicas ?? 0, selector: Object.entries(((d.spec as Obj)?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(",") },
      });
      if (info.verb === "get") return sendJson(res, 200, scale(o), headers);
      const body = await readObject(req);
      if (isStatus(body)) return sendStatus(res, body, headers);
      const next = mergePatch(scale(o), body) as Obj;
      const replicas = Number(next.spec?.replicas ?? 0);
      const spec = { ...(o.spec as Obj), replicas };
      const status = { ...(o.status as Obj), replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
      return sendJson(res, 200, scale(ctx.store.update(key, { ...o, spec, status })), headers);
    }
  }
  sendStatus(res, st.pathNotFound(), headers);
}
