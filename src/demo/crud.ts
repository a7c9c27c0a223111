// The REST verbs on one object (get, create, update, patch, delete) and deletecollection, against
// the store, with dryRun=All, conflicts on a stale resourceVersion, and the API server's Status errors.
import { randomBytes, randomUUID } from "node:crypto";
import type { ApiContext, Call } from "./api-context.js";
import type { ResourceDef } from "./discovery.js";
import { selector } from "./list-watch.js";
import { answerObject, apiVersionOf, applyDefaults, isStatus, readObject, storeKey, stripType, typed } from "./objects.js";
import { readBody, sendJson, sendStatus } from "./respond.js";
import * as st from "./status.js";
import { jsonPatch, mergePatch, rfc3339, type KObject } from "./store.js";

const dryRun = (url: URL): boolean => url.searchParams.get("dryRun") === "All";

export function getObject(ctx: ApiContext, call: Call, def: ResourceDef): void {
  const { res, info, headers } = call;
  const o = ctx.store.get(storeKey(def), def.namespaced ? info.namespace : "", info.name);
  if (!o) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
  answerObject(call, def, o, 200);
}

export async function createObject(ctx: ApiContext, call: Call, def: ResourceDef): Promise<void> {
  const { req, res, info, url, headers } = call;
  const body = await readObject(req);
  if (isStatus(body)) return sendStatus(res, body, headers);
  const o = body as KObject;
  o.metadata ??= { name: "" };
  if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + randomBytes(4).toString("hex").slice(0, 5);
  if (!o.metadata.name) return sendStatus(res, st.invalid(def.kind, "", def.group, [{ field: "metadata.name", message: "Required value: name or generateName is required" }]), headers);
  if (def.namespaced) {
    if (o.metadata.namespace && o.metadata.namespace !== info.namespace) {
      return sendStatus(res, st.badRequest("the namespace of the provided object does not match the namespace sent on the request"), headers);
    }
    o.metadata.namespace = info.namespace;
    if (!ctx.store.get("/namespaces", "", info.namespace)) return sendStatus(res, st.notFound("", "namespaces", info.namespace), headers);
  } else delete o.metadata.namespace;
  const key = storeKey(def);
  if (ctx.store.get(key, o.metadata.namespace ?? "", o.metadata.name)) return sendStatus(res, st.alreadyExists(def.group, def.name, o.metadata.name), headers);
  applyDefaults(def, o);
  const next = typed(def, o);
  if (dryRun(url)) {
    next.metadata.uid = randomUUID();
    next.metadata.creationTimestamp = rfc3339(Date.now());
    return answerObject(call, def, next, 201);
  }
  answerObject(call, def, ctx.store.create(key, next), 201);
}

export async function updateObject(ctx: ApiContext, call: Call, def: ResourceDef): Promise<void> {
  const { req, res, info, url, headers } = call;
  const body = await readObject(req);
  if (isStatus(body)) return sendStatus(res, body, headers);
  const o = body as KObject;
  const key = storeKey(def);
  const ns = def.namespaced ? info.namespace : "";
  if (o.metadata?.name && o.metadata.name !== info.name) return sendStatus(res, st.badRequest("the name of the object (" + o.metadata.name + ") does not match the name on the URL (" + info.name + ")"), headers);
  const current = ctx.store.get(key, ns, info.name);
  if (!current) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
  if (o.metadata?.resourceVersion && o.metadata.resourceVersion !== current.metadata.resourceVersion) return sendStatus(res, st.conflict(def.group, def.name, info.name), headers);
  const next = typed(def, { ...o, metadata: { ...o.metadata, name: info.name, ...(ns ? { namespace: ns } : {}), uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } });
  if (dryRun(url)) return answerObject(call, def, next, 200);
  answerObject(call, def, ctx.store.update(key, next), 200);
}

export async function patchObject(ctx: ApiContext, call: Call, def: ResourceDef): Promise<void> {
  const { req, res, info, url, headers } = call;
  const ct = String(req.headers["content-type"] ?? "").split(";")[0].trim();
  const types = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];
  if (!types.includes(ct)) return sendStatus(res, st.unsupportedMediaType(types), headers);
  const body = await readObject(req);
  if (isStatus(body)) return sendStatus(res, body, headers);
  const key = storeKey(def);
  const ns = def.namespaced ? info.namespace : "";
  const current = ctx.store.get(key, ns, info.name);
  if (!current) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
  let next: KObject;
  try {
    next = (ct === "application/json-patch+json" ? jsonPatch(current, body as never) : mergePatch(current, body)) as KObject;
  } catch (err) {
    return sendStatus(res, st.failure(422, "Invalid", (err as Error).message), headers);
  }
  next.metadata = { ...next.metadata, name: info.name, ...(ns ? { namespace: ns } : {}), uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
  if (dryRun(url)) return answerObject(call, def, typed(def, next), 200);
  answerObject(call, def, ctx.store.update(key, typed(def, next)), 200);
}

export async function deleteObject(ctx: ApiContext, call: Call, def: ResourceDef): Promise<void> {
  const { req, res, info, url, headers } = call;
  await readBody(req).catch(() => Buffer.alloc(0));
  const key = storeKey(def);
  const ns = def.namespaced ? info.namespace : "";
  if (dryRun(url)) {
    const o = ctx.store.get(key, ns, info.name);
    return o ? answerObject(call, def, o, 200) : sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
  }
  const o = ctx.store.delete(key, ns, info.name);
  if (!o) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
  answerObject(call, def, o, 200);
}

export function deleteCollection(ctx: ApiContext, { res, info, url, headers }: Call, def: ResourceDef): void {
  const key = storeKey(def);
  const filter = selector(def, info, url);
  const gone = ctx.store.list(key, def.namespaced ? info.namespace : "").filter(filter);
  for (const o of gone) ctx.store.delete(key, o.metadata.namespace ?? "", o.metadata.name);
  sendJson(res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: { resourceVersion: ctx.store.resourceVersion }, items: gone.map(stripType) }, headers);
}
