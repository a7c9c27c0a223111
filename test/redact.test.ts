// Secrets and credentials never reach the recording: headers and bodies are redacted.
import { describe, expect, it } from "vitest";
import { redactBody, redactHeaders, REDACTED } from "../src/proxy/redact.js";
import { parseRequestInfo } from "../src/proxy/request-info.js";
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

  it("redacts a protobuf Secret body whole", () => {
    const out = redactBody({ data: "azhzAAoMCgJ2MRIGU2VjcmV0", encoding: "base64", truncated: false, size: 18 }, secretsInfo, "application/vnd.kubernetes.protobuf")!;
    expect(out.data).toMatch(/^\[redacted\]/);
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
