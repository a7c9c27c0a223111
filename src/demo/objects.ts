// Objects on the way in and out of the REST handlers: the store key and apiVersion/kind of a resource,
// reading a request body (JSON or protobuf), answering one object (a Table when asked), and the
// fields the API server's defaulting fills in.
import type { IncomingMessage } from "node:http";
import type { Call, Obj } from "./api-context.js";
import type { ResourceDef } from "./discovery.js";
import { decodeProtobuf, isProtobuf } from "./proto.js";
import { negotiate, readBody, sendJson, sendNotAcceptable } from "./respond.js";
import * as st from "./status.js";
import { resourceKey, type KObject } from "./store.js";
import { table, type IncludeObject } from "./tables.js";

/** The store key of a resource (its subresource dropped). */
export function storeKey(def: ResourceDef): string {
  return resourceKey(def.group, def.name.split("/")[0]);
}

export function apiVersionOf(def: ResourceDef): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export function typed(def: ResourceDef, o: KObject): KObject {
  return { ...o, apiVersion: apiVersionOf(def), kind: def.kind };
}

/** A list item: the list carries apiVersion and kind, its items do not. */
export function stripType(o: KObject): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

export function includeObject(url: URL): IncludeObject {
  const v = url.searchParams.get("includeObject");
  return v === "None" || v === "Object" ? v : "Metadata";
}

export function isStatus(x: unknown): x is st.Status {
  return !!x && typeof x === "object" && (x as Obj).kind === "Status" && typeof (x as Obj).code === "number";
}

/** The request's object, or the Status to answer when it cannot be read. */
export async function readObject(req: IncomingMessage): Promise<Obj | st.Status> {
  const raw = await readBody(req);
  if (isProtobuf(raw)) {
    const decoded = decodeProtobuf(raw);
    return decoded ?? st.unsupportedMediaType(["application/json", "application/yaml"]);
  }
  const ct = String(req.headers["content-type"] ?? "application/json").split(";")[0].trim();
  if (!["application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json", ""].includes(ct)) {
    return st.unsupportedMediaType(["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]);
  }
  try {
    return JSON.parse(raw.toString("utf8")) as Obj;
  } catch (err) {
    return st.badRequest(`the server rejected our request due to an error in our request: ${(err as Error).message}`);
  }
}

/** Answers with one object, as a Table when the client asked for one. */
export function answerObject({ req, res, url, headers }: Call, def: ResourceDef, o: KObject, code: number): void {
  const n = negotiate(req.headers.accept, true);
  if (!n.ok) return sendNotAcceptable(res);
  if (n.table) return sendJson(res, code, table(storeKey(def), [o], { resourceVersion: o.metadata.resourceVersion }, includeObject(url)), headers);
  sendJson(res, code, typed(def, o), headers);
}

/** Fields the apiserver's defaulting would fill for the kinds users create by hand. */
export function applyDefaults(def: ResourceDef, o: KObject): void {
  const spec = o.spec as Obj | undefined;
  if (def.name === "namespaces") {
    o.spec ??= { finalizers: ["kubernetes"] };
    o.status = { phase: "Active" };
    o.metadata.labels = { ...o.metadata.labels, "kubernetes.io/metadata.name": o.metadata.name };
  } else if (def.name === "secrets") {
    const sec = o as Obj;
    sec.type ??= "Opaque";
    if (sec.stringData) {
      sec.data = { ...sec.data, ...Object.fromEntries(Object.entries(sec.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
      delete sec.stringData;
    }
  } else if (def.name === "pods" && spec) {
    o.status = { phase: "Pending", qosClass: "BestEffort" };
    spec.restartPolicy ??= "Always";
  } else if (def.name === "deployments" && spec) {
    spec.replicas ??= 1;
    o.status = { observedGeneration: 1, replicas: spec.replicas, updatedReplicas: spec.replicas, readyReplicas: spec.replicas, availableReplicas: spec.replicas };
  } else if (def.name === "services" && spec) {
    spec.type ??= "ClusterIP";
    spec.clusterIP ??= `10.96.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  }
}
