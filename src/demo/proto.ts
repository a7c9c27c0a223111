// Just enough Kubernetes protobuf to speak it as kube-apiserver does: decoding what kubectl's typed
// clients post (the "k8s\0" envelope around runtime.Unknown, then a schema per kind: reviews, ConfigMap,
// Secret, Namespace, Service, Deployment, Pod), and encoding answers for Status, Secret, ConfigMap,
// Pod and their lists, and watch events as length-prefixed WatchEvent frames, to clients that ask for it.

import { decodeEnvelope, isEnvelope, parseFields } from "../proxy/protobuf.js";

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Raw = Buffer | number;
type Fields = Map<number, Raw[]>;

/** The wire format itself is kubewire's generic decoder (src/proxy/protobuf.ts); this file adds the schemas. */
function fields(buf: Buffer): Fields {
  const parsed = parseFields(buf);
  if (!parsed) throw new Error("malformed protobuf message");
  const out: Fields = new Map();
  for (const f of parsed) {
    const value: Raw = Buffer.isBuffer(f.value) ? f.value : f.wire === 0 ? Number(BigInt.asIntN(64, f.value)) : 0;
    const list = out.get(f.no) ?? [];
    list.push(value);
    out.set(f.no, list);
  }
  return out;
}

/**
 * A field: json name and type. Types: "s" string, "i" integer, "b" bool, "y" bytes (base64 in JSON),
 * "m" map<string,string>, "my" map<string,bytes>, "t" metav1.Time, "ios" IntOrString, "q" resource.Quantity,
 * or a message name; a leading "*" means repeated.
 */
type Schema = Record<number, [string, string]>;

const SCHEMAS: Record<string, Schema> = {
  ObjectMeta: { 1: ["name", "s"], 2: ["generateName", "s"], 3: ["namespace", "s"], 5: ["uid", "s"], 6: ["resourceVersion", "s"], 7: ["generation", "i"], 8: ["creationTimestamp", "t"], 11: ["labels", "m"], 12: ["annotations", "m"], 13: ["ownerReferences", "*OwnerReference"], 14: ["finalizers", "*s"] },
  OwnerReference: { 1: ["kind", "s"], 3: ["name", "s"], 4: ["uid", "s"], 5: ["apiVersion", "s"], 6: ["controller", "b"], 7: ["blockOwnerDeletion", "b"] },
  ConfigMap: { 1: ["metadata", "ObjectMeta"], 2: ["data", "m"], 3: ["binaryData", "my"], 4: ["immutable", "b"] },
  Secret: { 1: ["metadata", "ObjectMeta"], 2: ["data", "my"], 3: ["type", "s"], 4: ["stringData", "m"], 5: ["immutable", "b"] },
  Namespace: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "NamespaceSpec"] },
  NamespaceSpec: { 1: ["finalizers", "*s"] },
  Service: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "ServiceSpec"] },
  ServiceSpec: { 1: ["ports", "*ServicePort"], 2: ["selector", "m"], 3: ["clusterIP", "s"], 4: ["type", "s"], 5: ["externalIPs", "*s"], 7: ["sessionAffinity", "s"], 10: ["externalName", "s"], 18: ["clusterIPs", "*s"] },
  ServicePort: { 1: ["name", "s"], 2: ["protocol", "s"], 3: ["port", "i"], 4: ["targetPort", "ios"], 5: ["nodePort", "i"] },
  Deployment: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "DeploymentSpec"] },
  DeploymentSpec: { 1: ["replicas", "i"], 2: ["selector", "LabelSelector"], 3: ["template", "PodTemplateSpec"], 4: ["strategy", "DeploymentStrategy"] },
  DeploymentStrategy: { 1: ["type", "s"] },
  LabelSelector: { 1: ["matchLabels", "m"] },
  PodTemplateSpec: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "PodSpec"] },
  Pod: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "PodSpec"], 3: ["status", "PodStatus"] },
  // core/v1 generated.proto: PodStatus, PodCondition, ContainerStatus and ContainerState* as kube-apiserver writes them
  PodStatus: { 1: ["phase", "s"], 2: ["conditions", "*PodCondition"], 3: ["message", "s"], 4: ["reason", "s"], 5: ["hostIP", "s"], 6: ["podIP", "s"], 7: ["startTime", "t"], 8: ["containerStatuses", "*ContainerStatus"], 9: ["qosClass", "s"], 10: ["initContainerStatuses", "*ContainerStatus"], 11: ["nominatedNodeName", "s"], 12: ["podIPs", "*PodIP"], 16: ["hostIPs", "*PodIP"] },
  PodCondition: { 1: ["type", "s"], 2: ["status", "s"], 3: ["lastProbeTime", "t"], 4: ["lastTransitionTime", "t"], 5: ["reason", "s"], 6: ["message", "s"] },
  PodIP: { 1: ["ip", "s"] },
  ContainerStatus: { 1: ["name", "s"], 2: ["state", "ContainerState"], 3: ["lastState", "ContainerState"], 4: ["ready", "b"], 5: ["restartCount", "i"], 6: ["image", "s"], 7: ["imageID", "s"], 8: ["containerID", "s"], 9: ["started", "b"] },
  ContainerState: { 1: ["waiting", "ContainerStateWaiting"], 2: ["running", "ContainerStateRunning"], 3: ["terminated", "ContainerStateTerminated"] },
  ContainerStateWaiting: { 1: ["reason", "s"], 2: ["message", "s"] },
  ContainerStateRunning: { 1: ["startedAt", "t"] },
  ContainerStateTerminated: { 1: ["exitCode", "i"], 2: ["signal", "i"], 3: ["reason", "s"], 4: ["message", "s"], 5: ["startedAt", "t"], 6: ["finishedAt", "t"], 7: ["containerID", "s"] },
  PodSecurityContext: {},
  ListMeta: { 1: ["selfLink", "s"], 2: ["resourceVersion", "s"], 3: ["continue", "s"], 4: ["remainingItemCount", "i"] },
  PodList: { 1: ["metadata", "ListMeta"], 2: ["items", "*Pod"] },
  ConfigMapList: { 1: ["metadata", "ListMeta"], 2: ["items", "*ConfigMap"] },
  SecretList: { 1: ["metadata", "ListMeta"], 2: ["items", "*Secret"] },
  // metav1.Status: metadata=1, status=2, message=3, reason=4, details=5, code=6 (apimachinery meta/v1 generated.proto)
  Status: { 1: ["metadata", "ListMeta"], 2: ["status", "s"], 3: ["message", "s"], 4: ["reason", "s"], 5: ["details", "StatusDetails"], 6: ["code", "i"] },
  StatusDetails: { 1: ["name", "s"], 2: ["group", "s"], 3: ["kind", "s"], 4: ["causes", "*StatusCause"], 5: ["retryAfterSeconds", "i"], 6: ["uid", "s"] },
  StatusCause: { 1: ["reason", "s"], 2: ["message", "s"], 3: ["field", "s"] },
  PodSpec: { 2: ["containers", "*Container"], 3: ["restartPolicy", "s"], 4: ["terminationGracePeriodSeconds", "i"], 6: ["dnsPolicy", "s"], 7: ["nodeSelector", "m"], 8: ["serviceAccountName", "s"], 9: ["serviceAccount", "s"], 10: ["nodeName", "s"], 14: ["securityContext", "PodSecurityContext"], 19: ["schedulerName", "s"], 20: ["initContainers", "*Container"], 25: ["priority", "i"], 30: ["enableServiceLinks", "b"], 31: ["preemptionPolicy", "s"] },
  Container: { 1: ["name", "s"], 2: ["image", "s"], 3: ["command", "*s"], 4: ["args", "*s"], 5: ["workingDir", "s"], 6: ["ports", "*ContainerPort"], 7: ["env", "*EnvVar"], 8: ["resources", "ResourceRequirements"], 13: ["terminationMessagePath", "s"], 14: ["imagePullPolicy", "s"], 16: ["stdin", "b"], 18: ["tty", "b"], 20: ["terminationMessagePolicy", "s"] },
  ContainerPort: { 1: ["name", "s"], 2: ["hostPort", "i"], 3: ["containerPort", "i"], 4: ["protocol", "s"] },
  EnvVar: { 1: ["name", "s"], 2: ["value", "s"] },
  ResourceRequirements: { 1: ["limits", "mq"], 2: ["requests", "mq"] },
  SelfSubjectAccessReview: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "SelfSubjectAccessReviewSpec"] },
  SelfSubjectAccessReviewSpec: { 1: ["resourceAttributes", "ResourceAttributes"], 2: ["nonResourceAttributes", "NonResourceAttributes"] },
  ResourceAttributes: { 1: ["namespace", "s"], 2: ["verb", "s"], 3: ["group", "s"], 4: ["version", "s"], 5: ["resource", "s"], 6: ["subresource", "s"], 7: ["name", "s"] },
  NonResourceAttributes: { 1: ["path", "s"], 2: ["verb", "s"] },
  SelfSubjectRulesReview: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "SelfSubjectRulesReviewSpec"] },
  SelfSubjectRulesReviewSpec: { 1: ["namespace", "s"] },
  SelfSubjectReview: { 1: ["metadata", "ObjectMeta"] },
  // authentication/v1 generated.proto: what `kubectl create token` posts
  TokenRequest: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "TokenRequestSpec"] },
  TokenRequestSpec: { 1: ["audiences", "*s"], 3: ["boundObjectRef", "BoundObjectReference"], 4: ["expirationSeconds", "i"] },
  BoundObjectReference: { 1: ["kind", "s"], 2: ["apiVersion", "s"], 3: ["name", "s"], 4: ["uid", "s"] },
};

function scalar(type: string, v: Raw): unknown {
  const text = (): string => (Buffer.isBuffer(v) ? v.toString("utf8") : "");
  switch (type) {
    case "s": return text();
    case "i": return typeof v === "number" ? v : 0;
    case "b": return v === 1;
    case "y": return Buffer.isBuffer(v) ? v.toString("base64") : "";
    case "t": {
      const f = Buffer.isBuffer(v) ? fields(v) : new Map();
      const secs = Number(f.get(1)?.[0] ?? 0);
      if (!secs) return undefined;
      return new Date(secs * 1000).toISOString().replace(".000Z", "Z");
    }
    case "ios": {
      const f = Buffer.isBuffer(v) ? fields(v) : new Map();
      const s = f.get(3)?.[0];
      return Number(f.get(1)?.[0] ?? 0) === 1 && Buffer.isBuffer(s) ? s.toString("utf8") : Number(f.get(2)?.[0] ?? 0);
    }
    case "q": {
      const f = Buffer.isBuffer(v) ? fields(v) : new Map();
      const s = f.get(1)?.[0];
      return Buffer.isBuffer(s) ? s.toString("utf8") : "";
    }
  }
  return Buffer.isBuffer(v) ? message(type, v) : undefined;
}

/** Pointer fields whose zero value is meaningful; every other empty field is omitted, as JSON's omitempty would. */
const KEEP_ZERO = new Set(["replicas", "immutable"]);

function isEmpty(v: unknown, type: string): boolean {
  if (v === "" || v === false || v === undefined) return true;
  if (v === 0 && type === "i") return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && v !== null && Object.keys(v).length === 0 && !/^[A-Z]/.test(type);
}

function message(name: string, buf: Buffer): Record<string, unknown> {
  const schema = SCHEMAS[name];
  const out: Record<string, unknown> = {};
  if (!schema) return out;
  for (const [no, values] of fields(buf)) {
    const def = schema[no];
    if (!def) continue;
    const [json, type] = def;
    if (type === "m" || type === "my" || type === "mq") {
      const map: Record<string, unknown> = {};
      for (const entry of values) {
        if (!Buffer.isBuffer(entry)) continue;
        const kv = fields(entry);
        const k = kv.get(1)?.[0];
        const val = kv.get(2)?.[0] ?? Buffer.alloc(0);
        map[Buffer.isBuffer(k) ? k.toString("utf8") : ""] = scalar(type === "my" ? "y" : type === "mq" ? "q" : "s", val);
      }
      out[json] = map;
    } else if (type.startsWith("*")) {
      out[json] = values.map((v) => scalar(type.slice(1), v));
    } else {
      out[json] = scalar(type, values[values.length - 1]);
    }
    if (isEmpty(out[json], type) && !KEEP_ZERO.has(json)) delete out[json];
  }
  return out;
}

export function isProtobuf(body: Buffer): boolean {
  return isEnvelope(body);
}

/** Decodes a protobuf-encoded object into its JSON form; undefined when we have no schema for its kind. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> | undefined {
  const env = decodeEnvelope(body);
  if (!env || !SCHEMAS[env.kind]) return undefined;
  return { apiVersion: env.apiVersion, kind: env.kind, ...message(env.kind, env.raw) };
}

// ---- encoding

/** The kinds answered in protobuf when the client prefers it (others fall back to JSON). */
const ENCODABLE = new Set(["Status", "Secret", "ConfigMap", "Pod", "SecretList", "ConfigMapList", "PodList"]);

export const PROTOBUF = "application/vnd.kubernetes.protobuf";

export function canEncode(kind: unknown): boolean {
  return typeof kind === "string" && ENCODABLE.has(kind);
}

function encodeVarint(n: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function tag(no: number, wire: number): Buffer {
  return encodeVarint(no * 8 + wire);
}

function lengthDelimited(no: number, body: Buffer): Buffer {
  return Buffer.concat([tag(no, 2), encodeVarint(body.length), body]);
}

function encodeScalar(no: number, type: string, v: unknown): Buffer | null {
  if (v === undefined || v === null) return null;
  switch (type) {
    case "s": return typeof v === "string" && v !== "" ? lengthDelimited(no, Buffer.from(v, "utf8")) : null;
    case "i": return typeof v === "number" && v !== 0 ? Buffer.concat([tag(no, 0), encodeVarint(Math.trunc(v))]) : null;
    case "b": return typeof v === "boolean" ? Buffer.concat([tag(no, 0), encodeVarint(v ? 1 : 0)]) : null;
    case "y": return typeof v === "string" ? lengthDelimited(no, Buffer.from(v, "base64")) : null;
    case "t": {
      const ms = typeof v === "string" ? Date.parse(v) : NaN;
      if (Number.isNaN(ms)) return null;
      return lengthDelimited(no, Buffer.concat([tag(1, 0), encodeVarint(Math.floor(ms / 1000))]));
    }
    case "q": return typeof v === "string" || typeof v === "number" ? lengthDelimited(no, lengthDelimited(1, Buffer.from(String(v), "utf8"))) : null;
    case "ios":
      if (typeof v === "number") return lengthDelimited(no, Buffer.concat([tag(1, 0), encodeVarint(0), tag(2, 0), encodeVarint(v)]));
      if (typeof v === "string") return lengthDelimited(no, Buffer.concat([tag(1, 0), encodeVarint(1), lengthDelimited(3, Buffer.from(v, "utf8"))]));
      return null;
  }
  return v && typeof v === "object" ? lengthDelimited(no, encodeMessage(type, v as Record<string, unknown>)) : null;
}

/** A message by its schema, fields in number order as Go's generated marshalers write them; unknown fields are left out. */
function encodeMessage(name: string, obj: Record<string, unknown>): Buffer {
  const schema = SCHEMAS[name] ?? {};
  const parts: Buffer[] = [];
  for (const no of Object.keys(schema).map(Number).sort((a, b) => a - b)) {
    const [json, type] = schema[no];
    const v = obj[json];
    if (v === undefined || v === null) continue;
    if (type === "m" || type === "my" || type === "mq") {
      // map entries sorted by key, as gogo-protobuf writes them
      for (const k of Object.keys(v as object).sort()) {
        const entry = [lengthDelimited(1, Buffer.from(k, "utf8")), encodeScalar(2, type === "my" ? "y" : type === "mq" ? "q" : "s", (v as Record<string, unknown>)[k]) ?? lengthDelimited(2, Buffer.alloc(0))];
        parts.push(lengthDelimited(no, Buffer.concat(entry)));
      }
    } else if (type.startsWith("*")) {
      if (!Array.isArray(v)) continue;
      for (const item of v) {
        const one = type === "*s" ? (typeof item === "string" ? lengthDelimited(no, Buffer.from(item, "utf8")) : null) : encodeScalar(no, type.slice(1), item);
        if (one) parts.push(one);
      }
    } else {
      const one = encodeScalar(no, type, v);
      if (one) parts.push(one);
    }
  }
  return Buffer.concat(parts);
}

/** An object in kube-apiserver's protobuf form: "k8s\0", then runtime.Unknown{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType}. */
export function encodeProtobuf(obj: Record<string, unknown>): Buffer {
  const kind = String(obj.kind ?? "");
  const typeMeta = Buffer.concat([lengthDelimited(1, Buffer.from(String(obj.apiVersion ?? ""), "utf8")), lengthDelimited(2, Buffer.from(kind, "utf8"))]);
  const unknown = Buffer.concat([lengthDelimited(1, typeMeta), lengthDelimited(2, encodeMessage(kind, obj)), lengthDelimited(3, Buffer.alloc(0)), lengthDelimited(4, Buffer.alloc(0))]);
  return Buffer.concat([MAGIC, unknown]);
}

/** One watch event on a `;stream=watch` protobuf stream: a 4-byte big-endian length, then WatchEvent{type, object{raw}}. */
export function watchFrame(type: string, obj: Record<string, unknown>): Buffer {
  const event = Buffer.concat([lengthDelimited(1, Buffer.from(type, "utf8")), lengthDelimited(2, lengthDelimited(1, encodeProtobuf(obj)))]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(event.length, 0);
  return Buffer.concat([prefix, event]);
}
