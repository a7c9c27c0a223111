// The demo cluster's pure parts: ages as kubectl prints them, request info and forbidden
// messages as kube-apiserver derives them, WebSocket framing, and the protobuf envelope.
import { describe, expect, it } from "vitest";
import { fakeShell, parseFrames } from "../src/demo/exec.js";
import { decodeProtobuf, isProtobuf } from "../src/demo/proto.js";
import { authorize, forbiddenMessage } from "../src/demo/rbac.js";
import { parseRequestInfo } from "../src/proxy/request-info.js";
const requestInfo = (method: string, path: string, query: URLSearchParams) => parseRequestInfo(method, path, query.toString());
import { forbidden } from "../src/demo/status.js";
import { humanDuration } from "../src/demo/tables.js";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe("ages", () => {
  it.each([
    [-3 * S, "<invalid>"],
    [-1 * S, "0s"],
    [119 * S, "119s"],
    [5 * M + 4 * S, "5m4s"],
    [5 * M, "5m"],
    [150 * M, "150m"],
    [3 * H + 10 * M, "3h10m"],
    [30 * H, "30h"],
    [2 * D + 3 * H, "2d3h"],
    [12 * D, "12d"],
    [800 * D, "2y70d"],
  ])("prints %d ms as %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe("request info and RBAC", () => {
  const viewer = { username: "viewer", groups: ["system:authenticated"] };
  const info = (method: string, path: string, q = "") => requestInfo(method, path, new URLSearchParams(q));

  it("derives verb, namespace, name and subresource as the apiserver does", () => {
    expect(info("GET", "/api/v1/namespaces/default/pods")).toMatchObject({ verb: "list", namespace: "default", resource: "pods", name: "" });
    expect(info("GET", "/api/v1/namespaces/default/pods", "watch=1")).toMatchObject({ verb: "watch" });
    expect(info("GET", "/api/v1/namespaces/default/pods", "fieldSelector=metadata.name%3Dweb-1")).toMatchObject({ verb: "list", name: "web-1" });
    expect(info("POST", "/api/v1/namespaces/default/pods/web-1/exec")).toMatchObject({ verb: "create", name: "web-1", subresource: "exec" });
    expect(info("DELETE", "/apis/apps/v1/namespaces/default/deployments")).toMatchObject({ verb: "deletecollection", apiGroup: "apps" });
    expect(info("GET", "/api/v1/namespaces/kube-system")).toMatchObject({ verb: "get", resource: "namespaces", name: "kube-system", namespace: "kube-system" });
    expect(info("GET", "/version")).toMatchObject({ isResourceRequest: false, verb: "get" });
  });

  it("builds the forbidden messages kubectl shows", () => {
    const i = info("GET", "/api/v1/nodes");
    expect(authorize(viewer, i, "/api/v1/nodes").allowed).toBe(false);
    expect(forbidden("", "nodes", "", forbiddenMessage(viewer, i, "")).message).toBe('nodes is forbidden: User "viewer" cannot list resource "nodes" in API group "" at the cluster scope');
    const p = info("GET", "/metrics");
    expect(forbidden("", "", "", forbiddenMessage(viewer, p, "/metrics")).message).toBe('forbidden: User "viewer" cannot get path "/metrics"');
    expect(authorize(viewer, info("GET", "/api/v1/namespaces/default/pods/web-1/log"), "").reason).toBe('RBAC: allowed by RoleBinding "viewer/default" of Role "viewer" to User "viewer"');
  });
});

describe("wire formats", () => {
  it("unmasks client WebSocket frames and keeps a partial frame for later", () => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const payload = Buffer.from([0, 104, 105]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    const frame = Buffer.concat([Buffer.from([0x82, 0x80 | payload.length]), mask, masked]);
    const { frames, rest } = parseFrames(Buffer.concat([frame, frame.subarray(0, 3)]));
    expect(frames).toEqual([{ opcode: 2, payload }]);
    expect(rest.length).toBe(3);
  });

  it("answers echo like a shell and anything else with a demo line", () => {
    expect(fakeShell(["echo", "hello"])).toBe("hello\n");
    expect(fakeShell(["ls", "-l"])).toBe("demo: ls -l\n");
  });

  it("decodes a protobuf ConfigMap inside the k8s envelope", () => {
    const field = (n: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([(n << 3) | 2, body.length]), body]);
    const str = (n: number, s: string): Buffer => field(n, Buffer.from(s));
    const typeMeta = Buffer.concat([str(1, "v1"), str(2, "ConfigMap")]);
    const cm = Buffer.concat([field(1, str(1, "x")), field(2, Buffer.concat([str(1, "a"), str(2, "b")]))]);
    const body = Buffer.concat([Buffer.from("k8s\0"), field(1, typeMeta), field(2, cm)]);
    expect(isProtobuf(body)).toBe(true);
    expect(decodeProtobuf(body)).toEqual({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { a: "b" } });
  });
});
