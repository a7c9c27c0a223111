// The shape of a HAR entry's "_kubewire" block, checked field by field on import: a block with a
// wrong type is refused with the field's path (never a crash, never a row of garbage).
import type { KubewireExtra } from "./har-types.js";

/** Returns null when the value fits, else what it should have been ("a number"). */
type Check = (v: unknown, at: string) => { at: string; expected: string; got: unknown } | null;

const is = (expected: string, ok: (v: unknown) => boolean): Check => (v, at) => (ok(v) ? null : { at, expected, got: v });

const str = is("a string", (v) => typeof v === "string");
const num = is("a number", (v) => typeof v === "number" && Number.isFinite(v));
const bool = is("true or false", (v) => typeof v === "boolean");
const oneOf = (...values: string[]) => is(`one of ${values.map((x) => JSON.stringify(x)).join(", ")}`, (v) => values.includes(v as string));

function orNull(check: Check): Check {
  return (v, at) => {
    if (v === null) return null;
    const bad = check(v, at);
    return bad && bad.at === at ? { ...bad, expected: `${bad.expected} or null` } : bad;
  };
}

function list(item: Check): Check {
  return (v, at) => {
    if (!Array.isArray(v)) return { at, expected: "a list", got: v };
    for (let i = 0; i < v.length; i++) {
      const bad = item(v[i], `${at}[${i}]`);
      if (bad) return bad;
    }
    return null;
  };
}

function mapOf(value: Check): Check {
  return (v, at) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return { at, expected: "an object", got: v };
    for (const [k, x] of Object.entries(v)) {
      const bad = value(x, `${at}.${k}`);
      if (bad) return bad;
    }
    return null;
  };
}

/** An object with these fields; a field whose name ends in "?" may be absent. Unknown fields are left alone. */
function obj(fields: Record<string, Check>): Check {
  return (v, at) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return { at, expected: "an object", got: v };
    const o = v as Record<string, unknown>;
    for (const [name, check] of Object.entries(fields)) {
      const optional = name.endsWith("?");
      const key = optional ? name.slice(0, -1) : name;
      if (optional && o[key] === undefined) continue;
      const bad = check(o[key], `${at}.${key}`);
      if (bad) return bad;
    }
    return null;
  };
}

const headerValue = is("a string or a list of strings", (v) => typeof v === "string" || (Array.isArray(v) && v.every((x) => typeof x === "string")));
const capturedBody = obj({ data: str, encoding: oneOf("utf8", "base64"), truncated: bool, size: num, "contentEncoding?": str, "sizeIsLowerBound?": bool });
const bodyMeta = obj({ "encoding?": oneOf("utf8", "base64"), "truncated?": bool, "size?": num, "contentEncoding?": str, "sizeIsLowerBound?": bool, "protobuf?": str });
const cert = obj({ subject: str, issuer: str, san: list(str), notBefore: str, notAfter: str, serial: str, sha256: str });
const leg = obj({ id: num, stream: num });

const EXTRA = obj({
  version: is("1", (v) => v === 1),
  "id?": orNull(num),
  origin: str,
  "replayOf?": orNull(num),
  context: str,
  clusterUrl: str,
  kubeUser: str,
  "kubeCluster?": str,
  client: obj({ address: str, userAgent: str }),
  info: obj({ isResourceRequest: bool, verb: str, apiPrefix: str, apiGroup: str, apiVersion: str, namespace: str, resource: str, subresource: str, name: str }),
  timing: obj({ dnsMs: num, connectMs: num, tlsMs: num, ttfbMs: num, totalMs: num, reusedConnection: bool }),
  tls: orNull(obj({ protocol: orNull(str), cipher: orNull(str), alpn: orNull(str), resumed: bool, chain: list(cert) })),
  error: orNull(obj({ code: str, message: str, "phase?": str, "proxy?": str })),
  stream: orNull(
    obj({
      kind: oneOf("watch", "upgrade", "stream"),
      events: num,
      "eventTypes?": mapOf(num),
      "lastError?": obj({ code: num, reason: str, message: str }),
      "format?": oneOf("json", "protobuf"),
      bytesIn: num,
      bytesOut: num,
      durationMs: num,
      endedBy: oneOf("client", "server", "proxy"),
    }),
  ),
  "protocol?": obj({ client: str, upstream: str }),
  "connection?": obj({ client: leg, upstream: orNull(leg) }),
  "source?": obj({ "host?": str, "run?": str, "pod?": str, "namespace?": str, "serviceAccount?": str }),
  requestBytes: num,
  requestBody: orNull(bodyMeta),
  responseBody: orNull(bodyMeta),
  "proxyAnswer?": obj({ status: num, headers: mapOf(headerValue), body: capturedBody }),
  "injected?": orNull(obj({ rule: str, action: str })),
  "fromProxy?": bool,
  "responseBytes?": num,
  "responseWireBytes?": num,
  "requestWireBytes?": num,
});

function shown(v: unknown): string {
  if (v === undefined) return "missing";
  const text = JSON.stringify(v);
  return `${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** The block as KubewireExtra, or the one-line reason it is not (e.g. `_kubewire.timing.ttfbMs is "fast", not a number`). */
export function checkExtra(value: unknown): { ok: true; extra: KubewireExtra } | { ok: false; reason: string } {
  const bad = EXTRA(value, "_kubewire");
  if (!bad) return { ok: true, extra: value as KubewireExtra };
  return { ok: false, reason: bad.got === undefined ? `${bad.at} is missing (it should be ${bad.expected})` : `${bad.at} is ${shown(bad.got)}, not ${bad.expected}` };
}
