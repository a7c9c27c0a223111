// kubewire's own 401 and 502 reach the person behind each client: worded as kube-apiserver negotiates a
// Status (JSON for clients that accept JSON, anything or protobuf; text for a text-only client), text/plain
// for a 5xx to client-go (kubectl shows it verbatim, even on discovery), and the line in a Warning header
// that kubectl prints where it hides a 401's body. Real kubectl and @kubernetes/client-node, real TLS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import https from "node:https";
import { join } from "node:path";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, kubectl, KUBECTL, record, recorded, ROOT, run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the kubewire answer tests are SKIPPED ***\n`);

/** ruby-kubeclient (Debian's ruby-kubeclient): it shows a Status body's message, else only "502 Bad Gateway". */
const haveKubeclient = spawnSync("ruby", ["-e", 'require "kubeclient"']).status === 0;
if (!haveKubeclient) console.warn("\n*** ruby-kubeclient not installed (apt-get install ruby-kubeclient): its test is SKIPPED ***\n");
const KUBECLIENT_SCRIPT = join(ROOT, "test/fixtures/kubeclient-list-pods.rb");

const KUBECTL_UA = "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07";
const REFUSED = /^kubewire: cannot reach the API server https:\/\/127\.0\.0\.1:\d+: dial 127\.0\.0\.1:\d+: connection refused \[ECONNREFUSED, connect\]/;

/** The session's kubeconfig with another proxy token: a client kubewire must refuse. */
function wrongToken(session: RecordingSession, dir: string): string {
  const doc = parse(readFileSync(session.kubeconfigPath, "utf8"));
  for (const u of doc.users) u.user.token = "not-the-proxy-token";
  const file = join(dir, `wrong-token-${session.kubeconfigPath.split("/").pop()}`);
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

/** One GET through the session's listener with exactly these headers (plus the proxy token unless told). */
function get(session: RecordingSession, headers: Record<string, string>, token = true): Promise<{ status: number; type: string; warning: string; body: string }> {
  const doc = parse(readFileSync(session.kubeconfigPath, "utf8"));
  const url = new URL(doc.clusters[0].cluster.server);
  const ca = Buffer.from(doc.clusters[0].cluster["certificate-authority-data"], "base64");
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: url.hostname, port: url.port, path: "/api/v1/namespaces/default/pods", ca, headers: { ...headers, ...(token ? { authorization: `Bearer ${doc.users[0].user.token}` } : {}) }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), warning: String(res.headers.warning ?? ""), body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** What client-node's ApiException carries for a failed list. */
async function clientNodeFailure(kubeconfig: string): Promise<{ code: number; body: unknown; headers: Record<string, string> }> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  try {
    await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default" });
  } catch (err) {
    const e = err as { code: number; body: unknown; headers: Record<string, string> };
    return { code: e.code, body: typeof e.body === "string" ? JSON.parse(e.body) : e.body, headers: e.headers };
  }
  throw new Error("the list succeeded");
}

describe.skipIf(!haveKubectl)("kubewire's own answers, worded for each client", () => {
  let world: World;
  let refused: RecordingSession;
  let admin: RecordingSession;

  beforeAll(async () => {
    world = await demoWorld();
    refused = await record(world, "demo-refused", { db: join(world.dir, "refused.db") });
    admin = await record(world, "demo-admin", { db: join(world.dir, "admin.db") });
  }, 120_000);
  afterAll(async () => {
    await refused?.stop(100);
    await admin?.stop(100);
    await world?.close();
  });

  it("puts the explanation in kubectl's error line, on discovery and on an ordinary request", async () => {
    const discovery = await kubectl(refused.kubeconfigPath, ["get", "pods", "--request-timeout=5s"]);
    const raw = await kubectl(refused.kubeconfigPath, ["get", "--raw", "/api/v1/namespaces/default/pods", "--request-timeout=5s"]);
    for (const r of [discovery, raw]) {
      const last = r.stderr.trimEnd().split("\n").at(-1)!;
      expect(last).toMatch(/^Error from server \(InternalError\): an error on the server \("kubewire: cannot reach the API server https:\/\/127\.0\.0\.1:\d+: dial 127\.0\.0\.1:\d+: connection refused/);
    }
  });

  it("tells a kubectl with the wrong proxy token that kubewire refused it, even on discovery", async () => {
    const r = await kubectl(wrongToken(admin, world.dir), ["get", "pods", "--request-timeout=5s"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Warning: kubewire: wrong proxy token");
    expect(r.stderr).toContain("use the kubeconfig that kubewire wrote for this run");
    expect(r.stderr.trimEnd().split("\n").at(-1)).toMatch(/^error: You must be logged in to the server/);
  });

  it("gives @kubernetes/client-node a Status whose message is kubewire's explanation", async () => {
    const down = await clientNodeFailure(refused.kubeconfigPath);
    expect(down.code).toBe(502);
    expect(down.body).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", code: 502 });
    expect((down.body as { message: string }).message).toMatch(REFUSED);
    // client-node drops a 401's body (the OpenAPI document declares none); its headers carry kubewire's line
    const refusedToken = await clientNodeFailure(wrongToken(admin, world.dir));
    expect(refusedToken.code).toBe(401);
    expect(refusedToken.headers["x-kubewire-error"]).toBe("PROXY_AUTH");
    expect(refusedToken.headers.warning).toMatch(/^299 - "kubewire: wrong proxy token/);
  });

  it.skipIf(!haveKubeclient)("gives ruby-kubeclient kubewire's explanation instead of \"502 Bad Gateway\"", async () => {
    const down = await run("ruby", [KUBECLIENT_SCRIPT, refused.kubeconfigPath]);
    expect(down.stdout).toMatch(/^502 kubewire: cannot reach the API server https:\/\/127\.0\.0\.1:\d+: dial 127\.0\.0\.1:\d+: connection refused/);
    const turnedAway = await run("ruby", [KUBECLIENT_SCRIPT, wrongToken(admin, world.dir)]);
    expect(turnedAway.stdout).toMatch(/^401 kubewire: wrong proxy token/);
  });

  it.each([
    // the same request as ruby-kubeclient's, for machines without it: its requests are rest-client's, Accept */* (it reads the Status message)
    ["ruby-kubeclient's request (rest-client, Accept */*)", "a JSON Status", { accept: "*/*", "user-agent": "rest-client/2.1.0 (linux x86_64) ruby/3.1.2p20" }],
    ["a client that asks for JSON", "a JSON Status", { accept: "application/json" }],
    ["a protobuf client that is not client-go", "a JSON Status", { accept: "application/vnd.kubernetes.protobuf, application/json", "user-agent": "my-operator/1.0" }],
    ["a client that says nothing of what it accepts", "a JSON Status", {}],
    ["a client that accepts only text", "text", { accept: "text/plain" }],
    ["client-go asking for protobuf", "text", { accept: "application/vnd.kubernetes.protobuf,application/json", "user-agent": KUBECTL_UA }],
    ["kubectl's own /version probe", "text", { accept: "application/json, */*", "user-agent": "kubectl-dispatcher/v1.0 (linux/amd64)" }],
    ["kubectl's discovery", "text", { accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json", "user-agent": KUBECTL_UA }],
  ])("answers an unreachable API server to %s with %s", async (_who, format, headers) => {
    const r = await get(refused, headers);
    expect(r.status).toBe(502);
    if (format === "a JSON Status") {
      expect(r.type).toBe("application/json");
      const status = JSON.parse(r.body);
      expect(status).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", code: 502 });
      expect(status.message).toMatch(REFUSED);
      expect(r.warning).toMatch(/^299 - "kubewire: cannot reach the API server/);
    } else {
      expect(r.type).toBe("text/plain; charset=utf-8");
      expect(r.body).toMatch(REFUSED);
      expect(r.warning).toBe("");
    }
  });

  it("answers kubectl's missing proxy token with kube-apiserver's 401 Status, and records what it answered", async () => {
    const r = await get(admin, { accept: "application/json, */*", "user-agent": KUBECTL_UA }, false);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401, message: "kubewire: no credentials: this client did not send the proxy token; use the kubeconfig that kubewire wrote for this run" });
    const ex = (await recorded(admin)).map((x) => x.ex).findLast((x) => x.error?.code === "PROXY_AUTH")!;
    expect(ex.response).toBeNull();
    expect(ex.proxyAnswer).toMatchObject({ status: 401, headers: { "content-type": "application/json", "x-kubewire-error": "PROXY_AUTH" } });
  });
});
