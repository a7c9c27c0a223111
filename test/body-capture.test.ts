// Body capture on its own: encoded bodies decoded incrementally and bounded (a decompression bomb
// included), watch events counted in JSON lines and protobuf frames cut at any byte, the Status of
// an ERROR event kept past the capture limit; Warning headers and deprecation texts read.
import { describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { BodyCapture } from "../src/proxy/body-capture.js";
import { protobufStatus, WatchEventParser } from "../src/proxy/watch-events.js";
import { decodeProtobuf, encodeProtobuf, watchFrame } from "../src/demo/proto.js";
import { gone } from "../src/demo/status.js";
import { parseDeprecation, warningTexts } from "../src/analyze/lib/warnings.js";

/** Pushes a buffer in pieces of the given size. */
function feed(c: { push(b: Buffer): void }, buf: Buffer, piece: number): void {
  for (let i = 0; i < buf.length; i += piece) c.push(buf.subarray(i, i + piece));
}

const LIST = Buffer.from(JSON.stringify({ kind: "ConfigMapList", items: Array.from({ length: 3000 }, (_, i) => ({ metadata: { name: `cm-${i}` }, data: { v: "x".repeat(100) } })) }));

describe("capturing an encoded body", () => {
  it.each([
    ["gzip", zlib.gzipSync(LIST)],
    ["deflate", zlib.deflateSync(LIST)],
    ["deflate", zlib.deflateRawSync(LIST)],
    ["br", zlib.brotliCompressSync(LIST)],
  ])("decodes %s piece by piece, counting decoded and wire bytes apart", (encoding, wire) => {
    const c = new BodyCapture(LIST.length, false, { contentEncoding: encoding });
    feed(c, wire, 1000);
    expect(c.size).toBe(LIST.length);
    expect(c.wireSize).toBe(wire.length);
    const body = c.result()!;
    expect(body).toMatchObject({ encoding: "utf8", truncated: false, size: LIST.length, contentEncoding: encoding });
    expect(body.data).toBe(LIST.toString());
  });

  it("keeps the first limit decoded bytes and counts the rest", () => {
    const c = new BodyCapture(1000, false, { contentEncoding: "gzip" });
    feed(c, zlib.gzipSync(LIST), 4096);
    const body = c.result()!;
    expect(body.truncated).toBe(true);
    expect(body.data).toBe(LIST.subarray(0, 1000).toString());
    expect(body.size).toBe(LIST.length);
  });

  it("stops decoding a decompression bomb at the ceiling, keeps counting wire bytes, and says the size is a lower bound", () => {
    const ceiling = 8 * 1024 * 1024;
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }); // ~64 KiB that inflate 1000-fold
    const c = new BodyCapture(64 * 1024, false, { contentEncoding: "gzip", decodeCeiling: ceiling });
    feed(c, bomb, 16 * 1024);
    expect(c.wireSize).toBe(bomb.length);
    expect(c.size).toBe(ceiling);
    expect(c.result()).toMatchObject({ truncated: true, size: ceiling, sizeIsLowerBound: true, contentEncoding: "gzip" });
    expect(c.result()!.data.length).toBe(64 * 1024);
  });

  it("shows a body that claims gzip but is not, as it came", () => {
    const c = new BodyCapture(100, false, { contentEncoding: "gzip" });
    c.push(Buffer.from('{"kind":"Status"}'));
    expect(c.result()).toEqual({ data: '{"kind":"Status"}', encoding: "utf8", truncated: false, size: 17 });
  });

  it("captures an identity body as before", () => {
    const c = new BodyCapture(5, true);
    c.push(Buffer.from("a\nb\nc"));
    expect(c.result()).toEqual({ data: "a\nb\nc", encoding: "utf8", truncated: false, size: 5 });
    expect(c.newlines).toBe(2);
  });
});

const EXPIRED = gone("too old resource version: 5 (27)");

describe("reading watch events as they pass", () => {
  const lines = [
    JSON.stringify({ type: "ADDED", object: { kind: "Pod", metadata: { name: "a" } } }),
    JSON.stringify({ type: "MODIFIED", object: { kind: "Pod", metadata: { name: "a", annotations: { big: "y".repeat(100_000) } } } }),
    JSON.stringify({ type: "BOOKMARK", object: { kind: "Pod", metadata: { resourceVersion: "27" } } }),
    JSON.stringify({ type: "ERROR", object: EXPIRED }),
  ].join("\n") + "\n";

  it.each([1, 7, 4096])("counts JSON lines by type and keeps the ERROR's Status, in pieces of %i bytes", (piece) => {
    const p = new WatchEventParser("json");
    feed(p, Buffer.from(lines), piece);
    p.end();
    expect(p.events).toBe(4);
    expect(p.types).toEqual({ ADDED: 1, MODIFIED: 1, BOOKMARK: 1, ERROR: 1 });
    expect(p.lastError).toEqual({ code: 410, reason: "Expired", message: "too old resource version: 5 (27)" });
  });

  it("counts a last event that has no newline", () => {
    const p = new WatchEventParser("json");
    p.push(Buffer.from('{"type":"ADDED","object":{}}\n{"type":"DELETED","object":{}}'));
    p.end();
    expect(p.types).toEqual({ ADDED: 1, DELETED: 1 });
  });

  const frames = Buffer.concat([
    watchFrame("ADDED", { kind: "Pod", apiVersion: "v1", metadata: { name: "web-0", namespace: "default" } }),
    watchFrame("ADDED", { kind: "ConfigMap", apiVersion: "v1", metadata: { name: "cm" }, data: { "a\nb": "x\ny".repeat(40_000) } }),
    watchFrame("BOOKMARK", { kind: "Pod", apiVersion: "v1", metadata: { resourceVersion: "27" } }),
    watchFrame("DELETED", { kind: "Pod", apiVersion: "v1", metadata: { name: "web-0" } }),
    watchFrame("ERROR", { ...EXPIRED }),
  ]);

  it.each([1, 3, 65536])("counts protobuf frames, not the newlines in them, in pieces of %i bytes", (piece) => {
    const c = new BodyCapture(16, true, { contentType: "application/vnd.kubernetes.protobuf;stream=watch", watch: true });
    feed(c, frames, piece);
    expect(frames.filter((b) => b === 10).length).toBeGreaterThan(5);
    expect(c.events).toBe(5);
    expect(c.watchSummary()).toEqual({
      format: "protobuf",
      eventTypes: { ADDED: 2, BOOKMARK: 1, DELETED: 1, ERROR: 1 },
      lastError: { code: 410, reason: "Expired", message: "too old resource version: 5 (27)" },
    });
  });

  it("reads a Status from protobuf, with or without the k8s envelope, and from JSON", () => {
    const enveloped = encodeProtobuf({ ...EXPIRED });
    expect(protobufStatus(enveloped)).toEqual({ code: 410, reason: "Expired", message: "too old resource version: 5 (27)" });
    expect(protobufStatus(Buffer.from(JSON.stringify(EXPIRED)))).toMatchObject({ code: 410, reason: "Expired" });
  });
});

describe("the demo cluster's protobuf", () => {
  it("decodes what it encodes for a running Pod, status and container states included", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "db-0", namespace: "default", uid: "u-1", resourceVersion: "12", creationTimestamp: "2025-01-01T00:00:00Z", labels: { app: "db" } },
      spec: { containers: [{ name: "db", image: "postgres:16", ports: [{ containerPort: 80, protocol: "TCP" }], resources: {}, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", imagePullPolicy: "IfNotPresent" }], restartPolicy: "Always", terminationGracePeriodSeconds: 30, dnsPolicy: "ClusterFirst", serviceAccountName: "default", serviceAccount: "default", nodeName: "w", securityContext: {}, schedulerName: "default-scheduler", enableServiceLinks: true, preemptionPolicy: "PreemptLowerPriority" },
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2025-01-01T00:00:06Z" }],
        hostIP: "172.18.0.3",
        podIP: "10.244.1.7",
        startTime: "2025-01-01T00:00:01Z",
        containerStatuses: [{ name: "db", state: { running: { startedAt: "2025-01-01T00:00:05Z" } }, lastState: { terminated: { exitCode: 137, reason: "OOMKilled", startedAt: "2024-12-31T23:00:00Z", finishedAt: "2025-01-01T00:00:00Z" } }, ready: true, restartCount: 3, image: "postgres:16", imageID: "docker.io/library/postgres@sha256:0", containerID: "containerd://1", started: true }],
        qosClass: "BestEffort",
        podIPs: [{ ip: "10.244.1.7" }],
        hostIPs: [{ ip: "172.18.0.3" }],
      },
    };
    expect(decodeProtobuf(encodeProtobuf(pod))).toEqual(pod);
  });

  it("decodes what it encodes for a Secret and a Status", () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "default", labels: { app: "db" }, creationTimestamp: "2025-01-01T00:00:00Z" }, data: { password: Buffer.from("s3cr3t").toString("base64") }, type: "Opaque" };
    expect(decodeProtobuf(encodeProtobuf(secret))).toEqual(secret);
    expect(decodeProtobuf(encodeProtobuf({ ...EXPIRED }))).toEqual({ apiVersion: "v1", kind: "Status", metadata: {}, status: "Failure", message: EXPIRED.message, reason: "Expired", code: 410 });
  });
});

describe("Warning headers", () => {
  it("reads each warning of each header value, quoted text unescaped", () => {
    expect(warningTexts({ warning: ['299 - "v1 ComponentStatus is deprecated in v1.19+"', '299 - "a \\"quoted\\" field", 299 - "second"'] })).toEqual([
      "v1 ComponentStatus is deprecated in v1.19+",
      'a "quoted" field',
      "second",
    ]);
  });

  it.each([
    ["policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+; use policy/v1 PodDisruptionBudget", { api: "policy/v1beta1 PodDisruptionBudget", deprecatedIn: "v1.21", removedIn: "v1.25", replacement: "policy/v1 PodDisruptionBudget" }],
    ["v1 ComponentStatus is deprecated in v1.19+", { api: "v1 ComponentStatus", deprecatedIn: "v1.19" }],
    ["unknown field \"spec.foo\"", null],
  ])("parses kube-apiserver's deprecation text %j", (text, expected) => {
    expect(parseDeprecation(text)).toEqual(expected);
  });
});
