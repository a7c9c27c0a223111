// Just enough Kubernetes protobuf decoding to read what kubectl's typed clients post:
// the "k8s\0" envelope around runtime.Unknown, then a schema for each kind we accept
// (reviews, ConfigMap, Secret, Namespace, Service, Deployment, Pod). Answers go back as JSON.
import { decodeEnvelope, isEnvelope, parseFields } from "../proxy/protobuf.js";

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
  Pod: { 1: ["metadata", "ObjectMeta"], 2: ["spec", "PodSpec"] },
  PodSpec: { 2: ["containers", "*Container"], 3: ["restartPolicy", "s"], 6: ["dnsPolicy", "s"], 10: ["nodeName", "s"], 8: ["serviceAccountName", "s"], 20: ["initContainers", "*Container"] },
  Container: { 1: ["name", "s"], 2: ["image", "s"], 3: ["command", "*s"], 4: ["args", "*s"], 5: ["workingDir", "s"], 6: ["ports", "*ContainerPort"], 7: ["env", "*EnvVar"], 8: ["resources", "ResourceRequirements"], 14: ["imagePullPolicy", "s"], 16: ["stdin", "b"], 18: ["tty", "b"] },
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
