// Secrets and credentials never reach the recording: headers and bodies are redacted.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { redactBody, redactHeaders, redactQuery, REDACTED } from "../src/proxy/redact.js";
import { parseRequestInfo } from "../src/proxy/request-info.js";
import { bytesField, renderProtobuf } from "../src/proxy/protobuf.js";
import type { CapturedBody } from "../src/types.js";

const body = (data: string, truncated = false): CapturedBody => ({ data, encoding: "utf8", truncated, size: data.length });
const secretsInfo = parseRequestInfo("GET", "/api/v1/namespaces/default/secrets", "");
const podsInfo = parseRequestInfo("GET", "/api/v1/namespaces/default/pods", "");

describe("redaction", () => {
  it("replaces Authorization, Cookie and Proxy-Authorization but keeps the scheme", () => {
    const h = redactHeaders({ authorization: "Bearer abc.def", cookie: "a=b", "proxy-authorization": "Basic Zm9v", accept: "application/json" });
    expect(h).toEqual({ authorization: `Bearer ${REDACTED}`, cookie: REDACTED, "proxy-authorization": `Basic ${REDACTED}`, accept: "application/json" });
  });

  it("redacts every value of a Secret's data and stringData and its last-applied annotation", () => {
    const secret = {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name: "s", annotations: { "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}' } },
      data: { password: "aHVudGVyMg==" },
      stringData: { token: "hunter2" },
    };
    const out = redactBody(body(JSON.stringify(secret)), secretsInfo, "application/json")!;
    expect(out.data).not.toContain("aHVudGVyMg==");
    expect(out.data).not.toContain("hunter2");
    expect(JSON.parse(out.data).data).toEqual({ password: REDACTED });
  });

  it("redacts items of a SecretList, whose items carry no kind", () => {
    const list = { kind: "SecretList", apiVersion: "v1", items: [{ metadata: { name: "a" }, data: { k: "c2VjcmV0" } }] };
    const out = redactBody(body(JSON.stringify(list)), secretsInfo, "application/json")!;
    expect(out.data).not.toContain("c2VjcmV0");
  });

  it("redacts Secrets inside watch events, one per line", () => {
    const ev = (v: string) => JSON.stringify({ type: "ADDED", object: { kind: "Secret", metadata: { name: "x" }, data: { k: v } } });
    const out = redactBody(body(`${ev("Zmlyc3Q=")}\n${ev("c2Vjb25k")}\n`), parseRequestInfo("GET", "/api/v1/secrets", "watch=1"), "application/json")!;
    expect(out.data).not.toMatch(/Zmlyc3Q=|c2Vjb25k/);
    expect(out.data.split("\n").filter(Boolean)).toHaveLength(2);
  });

  it("drops a truncated Secret body that cannot be parsed", () => {
    const out = redactBody(body('{"kind":"Secret","data":{"k":"c2Vj', true), secretsInfo, "application/json")!;
    expect(out.data).not.toContain("c2Vj");
  });

  it("keeps a protobuf Secret with no values in it as it was", () => {
    const out = redactBody({ data: "azhzAAoMCgJ2MRIGU2VjcmV0", encoding: "base64", truncated: false, size: 18 }, secretsInfo, "application/vnd.kubernetes.protobuf")!;
    expect(out.data).toBe("azhzAAoMCgJ2MRIGU2VjcmV0");
  });

  it("redacts TokenRequest and TokenReview tokens", () => {
    const tr = { kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", status: { token: "eyJhbGciOi.secret.sig", expirationTimestamp: "x" } };
    const info = parseRequestInfo("POST", "/api/v1/namespaces/default/serviceaccounts/default/token", "");
    expect(redactBody(body(JSON.stringify(tr)), info, "application/json")!.data).not.toContain("eyJhbGciOi");
    const review = { kind: "TokenReview", spec: { token: "abc.def.ghi" } };
    expect(redactBody(body(JSON.stringify(review)), parseRequestInfo("POST", "/apis/authentication.k8s.io/v1/tokenreviews", ""), "application/json")!.data).not.toContain("abc.def.ghi");
  });

  it("leaves ordinary bodies byte for byte as they were", () => {
    const text = '{\n  "kind": "PodList",\n  "items": []\n}';
    expect(redactBody(body(text), podsInfo, "application/json")!.data).toBe(text);
  });
});

// ---- table-driven cases: each secret string must be gone, each keep string must stay

const SECRET = "hunter2-s3cr3t";
const B64 = Buffer.from(SECRET).toString("base64");
const LA = "kubectl.kubernetes.io/last-applied-configuration";
const lastApplied = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "d" }, stringData: { password: SECRET } });
const info = (method: string, path: string, query = "") => parseRequestInfo(method, path, query);
const SECRETS = info("GET", "/api/v1/namespaces/d/secrets");
const ONE_SECRET = info("GET", "/api/v1/namespaces/d/secrets/s");
const PATCH_SECRET = info("PATCH", "/api/v1/namespaces/d/secrets/s");
const PODS = info("GET", "/api/v1/namespaces/d/pods");
const partial = (annotations: Record<string, string>) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: { name: "s", namespace: "d", annotations } });
const j = (v: unknown) => JSON.stringify(v);

describe("the redactor finds Secret material wherever it sits", () => {
  it.each([
    ["a Table row whose object is PartialObjectMetadata with the last-applied annotation", SECRETS, j({ kind: "Table", apiVersion: "meta.k8s.io/v1", columnDefinitions: [], rows: [{ cells: ["s", "Opaque", 1, "1m"], object: partial({ [LA]: lastApplied, team: "blue" }) }] }), ["blue"]],
    ["a PartialObjectMetadataList on the secrets path", SECRETS, j({ kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", items: [partial({ [LA]: lastApplied })] }), []],
    ["a watch of Table rows, one event per line", info("GET", "/api/v1/namespaces/d/secrets", "watch=1"), `${j({ type: "ADDED", object: { kind: "Table", rows: [{ cells: ["s"], object: partial({ [LA]: lastApplied }) }] } })}\n${j({ type: "MODIFIED", object: { kind: "Secret", metadata: { name: "s" }, data: { password: B64 } } })}\n`, ["MODIFIED"]],
    ["a Table row on a path that is not a secrets path, whose last-applied describes a Secret", info("GET", "/api/v1/namespaces/d/configmaps"), j({ kind: "Table", rows: [{ cells: [], object: partial({ [LA]: lastApplied }) }] }), []],
    ["a Secret embedded in a custom resource", info("GET", "/apis/example.com/v1/namespaces/d/bundles/b"), j({ kind: "Bundle", apiVersion: "example.com/v1", spec: { resources: [{ kind: "Secret", apiVersion: "v1", metadata: { name: "x" }, data: { k: B64 } }] } }), ["Bundle"]],
    ["a v1 List of mixed kinds holding a Secret", PODS, j({ kind: "List", items: [{ kind: "Pod", metadata: { name: "p" } }, { kind: "Secret", metadata: { name: "s" }, stringData: { k: SECRET } }] }), ["Pod"]],
    ["a Secret with an unknown field", ONE_SECRET, j({ kind: "Secret", metadata: { name: "s" }, binaryData: { k: B64 }, type: "Opaque" }), ["Opaque"]],
    ["a pretty-printed Secret", ONE_SECRET, JSON.stringify({ kind: "Secret", metadata: { name: "s" }, data: { k: B64 } }, null, 2), []],
    ["a JSON patch adding one key under /data", PATCH_SECRET, j([{ op: "add", path: "/data/token", value: B64 }]), ["/data/token"]],
    ["a JSON patch replacing /data whole", PATCH_SECRET, j([{ op: "replace", path: "/data", value: { token: B64 } }]), ["token"]],
    ["a JSON patch replacing the whole object", PATCH_SECRET, j([{ op: "replace", path: "/", value: { kind: "Secret", metadata: { name: "s", annotations: { [LA]: lastApplied } }, stringData: { k: SECRET } } }]), []],
    ["a JSON patch of stringData and a test op", PATCH_SECRET, j([{ op: "test", path: "/stringData/k", value: SECRET }, { op: "add", path: "/metadata/labels/team", value: "blue" }]), ["blue"]],
    ["a JSON patch of the last-applied annotation", PATCH_SECRET, j([{ op: "add", path: "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration", value: lastApplied }]), []],
    ["a strategic merge patch", PATCH_SECRET, j({ data: { k: B64 }, metadata: { annotations: { [LA]: lastApplied } } }), []],
    ["a merge patch of stringData", PATCH_SECRET, j({ stringData: { k: SECRET } }), []],
    ["a YAML Secret", info("POST", "/api/v1/namespaces/d/secrets"), `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: ${SECRET}\n`, ["password"]],
    ["a TokenReview without kind", info("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), j({ apiVersion: "authentication.k8s.io/v1", spec: { token: SECRET } }), []],
    ["a TokenReview on another path, by its kind", info("POST", "/apis/example.com/v1/reviews"), j({ kind: "TokenReview", spec: { token: SECRET } }), []],
    ["a TokenRequest answer", info("POST", "/api/v1/namespaces/d/serviceaccounts/default/token"), j({ kind: "TokenRequest", status: { token: SECRET, expirationTimestamp: "2030-01-01T00:00:00Z" } }), ["2030"]],
    ["a Secret got by an absolute-form target", info("GET", "https://10.0.0.1:6443/api/v1/namespaces/d/secrets/s"), j({ metadata: { name: "s" }, data: { k: B64 } }), []],
  ])("%s", (_name, reqInfo, text, keep) => {
    const out = redactBody(body(text), reqInfo, text.startsWith("apiVersion") ? "application/yaml" : "application/json")!;
    for (const leaked of [SECRET, B64]) expect(out.data).not.toContain(leaked);
    expect(out.data).not.toContain(lastApplied.slice(0, 40));
    for (const k of keep) expect(out.data).toContain(k);
  });

  it.each([
    ["plain text on a secrets path", ONE_SECRET, `password=${SECRET}`, "text/plain"],
    ["a cut JSON Secret", ONE_SECRET, `{"kind":"Secret","data":{"k":"${B64}`, "application/json"],
    ["a JSON string on a token path", info("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), JSON.stringify(SECRET), "application/json"],
    ["YAML that does not parse on a secrets path", ONE_SECRET, `data:\n  k: ${SECRET}\n bad: [`, "application/yaml"],
    ["a cut v1 List holding a Secret on another path", PODS, `{"kind":"List","items":[{"kind":"Secret","data":{"k":"${B64}"}},{"kind":"Pod"`, "application/json"],
    ["a binary body on a secrets path", ONE_SECRET, "", "application/octet-stream"],
  ])("keeps only a placeholder saying why for %s", (_name, reqInfo, text, type) => {
    const captured = text === "" ? { data: Buffer.from([0xff, 0xfe, ...Buffer.from(SECRET)]).toString("base64"), encoding: "base64" as const, truncated: false, size: 16 } : body(text);
    const out = redactBody(captured, reqInfo, type)!;
    expect(out.data).not.toContain(SECRET);
    expect(out.data).not.toContain(B64);
    expect(out.data).toMatch(/^\[redacted\] \(.+not kept\)$/);
  });

  it("keeps only a placeholder for a gzip body, still compressed, that holds a Secret", () => {
    const gz = gzipSync(j({ kind: "List", items: [{ kind: "Secret", data: { k: B64 } }] }));
    const out = redactBody({ data: gz.toString("base64"), encoding: "base64", truncated: false, size: gz.length }, PODS, "application/json")!;
    expect(out.data).toMatch(/^\[redacted\] \(.+not kept\)$/);
    const plain = gzipSync(j({ kind: "PodList", items: [] }));
    expect(redactBody({ data: plain.toString("base64"), encoding: "base64", truncated: false, size: plain.length }, PODS, "application/json")!.data).toBe(plain.toString("base64"));
  });

  it("returns a cut ordinary list that names no sensitive kind as it was", () => {
    const text = '{"kind":"ConfigMapList","items":[{"metadata":{"name":"Secret-notes"},"data":{"k":"v"}},{"meta';
    expect(redactBody(body(text, true), info("GET", "/api/v1/configmaps"), "application/json")!.data).toBe(text);
  });

  it("returns an ordinary body that merely mentions a Secret as it was", () => {
    const text = j({ kind: "Pod", spec: { volumes: [{ name: "v", secret: { secretName: "s" } }] }, metadata: { annotations: { [LA]: j({ kind: "Pod" }) } } });
    expect(redactBody(body(text), PODS, "application/json")!.data).toBe(text);
  });
});

describe("header redaction", () => {
  it("replaces only the bearer entry of Sec-WebSocket-Protocol", () => {
    const h = redactHeaders({ "sec-websocket-protocol": `v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${SECRET}, v4.channel.k8s.io` });
    expect(h["sec-websocket-protocol"]).toBe(`v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.${REDACTED}, v4.channel.k8s.io`);
  });

  it.each(["Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Kubewire-Token", "X-Auth-Token", "X-Api-Key", "X-Amz-Security-Token"])("replaces %s", (name) => {
    const h = redactHeaders({ [name]: [`Bearer ${SECRET}`, `${SECRET}=1`] });
    expect(JSON.stringify(h)).not.toContain(SECRET);
  });

  it.each([
    ["an OAuth access token", "watch=true&access_token=SECRET&limit=5", "watch=true&access_token=[redacted]&limit=5"],
    ["an id token, a password and an API key", "id_token=SECRET&password=SECRET&api-key=SECRET&apikey=SECRET", "id_token=[redacted]&password=[redacted]&api-key=[redacted]&apikey=[redacted]"],
    ["a percent-encoded name", "access%5Ftoken=SECRET", "access%5Ftoken=[redacted]"],
    ["Kubernetes' own parameters, a list's continue token included", "labelSelector=app%3Dweb&continue=eyJ2IjoibWV0YS&resourceVersion=12&watch=1", "labelSelector=app%3Dweb&continue=eyJ2IjoibWV0YS&resourceVersion=12&watch=1"],
  ])("redacts credential-named query parameters, %s", (_what, query, expected) => {
    expect(redactQuery(query.replace(/SECRET/g, SECRET))).toBe(expected);
  });

  it("keeps kubectl's Kubectl-Session (a per-run id that tells kubectl runs apart, no credential)", () => {
    expect(redactHeaders({ "kubectl-session": "0b4a0d7e-6f5e-4d1a-9d3c-2f1e8b7a6c5d", "x-session-token": SECRET })).toEqual({ "kubectl-session": "0b4a0d7e-6f5e-4d1a-9d3c-2f1e8b7a6c5d", "x-session-token": REDACTED });
  });
});

// ---- protobuf: the bodies kubectl's typed clients and protobuf watches carry

const field = (no: number, v: Buffer | string) => bytesField(no, v);
const entry = (no: number, k: string, v: string) => field(no, Buffer.concat([field(1, k), field(2, v)]));
const envelope = (apiVersion: string, kind: string, raw: Buffer) => Buffer.concat([Buffer.from("k8s\0", "latin1"), field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])), field(2, raw)]);
const meta = (annotations: Record<string, string>) => field(1, Buffer.concat([field(1, "s"), field(3, "d"), ...Object.entries(annotations).map(([k, v]) => entry(12, k, v))]));
const protoSecret = Buffer.concat([meta({ [LA]: lastApplied, team: "blue" }), entry(2, "password", SECRET), field(3, "Opaque"), entry(4, "token", SECRET)]);
const frame = (type: string, obj: Buffer) => {
  const ev = Buffer.concat([field(1, type), field(2, field(1, obj))]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(ev.length);
  return Buffer.concat([len, ev]);
};
const b64body = (b: Buffer): CapturedBody => ({ data: b.toString("base64"), encoding: "base64", truncated: false, size: b.length });
const PB = "application/vnd.kubernetes.protobuf";

describe("protobuf redaction", () => {
  it.each([
    ["a Secret", ONE_SECRET, envelope("v1", "Secret", protoSecret), ["password", "token", "blue", "Opaque"]],
    ["a Secret posted to a path that is not a secrets path", PODS, envelope("v1", "Secret", protoSecret), ["password"]],
    ["a SecretList", SECRETS, envelope("v1", "SecretList", field(2, protoSecret)), ["password"]],
    ["a PartialObjectMetadataList", SECRETS, envelope("meta.k8s.io/v1", "PartialObjectMetadataList", field(2, meta({ [LA]: lastApplied }))), []],
    ["a watch stream of Secrets", info("GET", "/api/v1/secrets", "watch=1"), Buffer.concat([frame("ADDED", envelope("v1", "Secret", protoSecret)), frame("MODIFIED", envelope("v1", "Secret", protoSecret))]), ["MODIFIED"]],
    ["a TokenReview", info("POST", "/apis/authentication.k8s.io/v1/tokenreviews"), envelope("authentication.k8s.io/v1", "TokenReview", field(2, field(1, SECRET))), []],
  ])("redacts %s and keeps its structure", (_name, reqInfo, bytes, keep) => {
    const out = redactBody(b64body(bytes), reqInfo, PB)!;
    const raw = Buffer.from(out.data, out.encoding === "base64" ? "base64" : "utf8");
    for (const leaked of [SECRET, B64]) expect(raw.toString("latin1")).not.toContain(leaked);
    expect(raw.toString("latin1")).not.toContain("hunter2");
    const tree = renderProtobuf(raw)!;
    expect(tree).toContain(REDACTED);
    for (const k of keep) expect(tree).toContain(k);
  });

  it("reads a protobuf body that happened to be valid UTF-8", () => {
    const bytes = envelope("v1", "Secret", Buffer.concat([field(1, field(1, "s")), entry(2, "k", SECRET)]));
    const out = redactBody({ data: bytes.toString("utf8"), encoding: "utf8", truncated: false, size: bytes.length }, PODS, PB)!;
    expect(Buffer.from(out.data, out.encoding === "base64" ? "base64" : "utf8").toString("latin1")).not.toContain(SECRET);
  });

  it("keeps only a placeholder for a protobuf kind it cannot read on a secrets path", () => {
    const out = redactBody(b64body(envelope("v1", "Mystery", field(7, SECRET))), ONE_SECRET, PB)!;
    expect(out.data).toMatch(/^\[redacted\] \(.+not kept\)$/);
  });

  it("renders a message whose bytes happen to be printable as a message, and text with a newline as text", () => {
    const longName = "a-name-long-enough-that-its-length-byte-is-printable";
    expect(renderProtobuf(envelope("v1", "Secret", Buffer.concat([field(1, field(1, longName)), field(2, "\nline two")])))).toBe(
      ['# Kubernetes protobuf: apiVersion "v1" kind "Secret"', "1 {", `  1: "${longName}"`, "}", '2: "\\nline two"'].join("\n"),
    );
  });

  it("renders a Secret as a decode_raw tree with the envelope named", () => {
    expect(renderProtobuf(envelope("v1", "Secret", Buffer.concat([field(1, field(1, "s")), field(3, "Opaque")])))).toBe(
      ['# Kubernetes protobuf: apiVersion "v1" kind "Secret"', "1 {", '  1: "s"', "}", '3: "Opaque"'].join("\n"),
    );
  });
});
