// A user's session: kubectl through kubewire to the simulated cluster, over real TLS,
// and what the recording then holds for each exchange.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, kubectl, KUBECTL, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the kubectl tests are SKIPPED ***\n`);


describe.skipIf(!haveKubectl)("kubectl through kubewire", () => {
  let world: World;
  let admin: RecordingSession;

  beforeAll(async () => {
    world = await demoWorld();
    admin = await record(world, "demo-admin");
  });
  afterAll(async () => {
    await admin?.stop(100);
    await world?.close();
  });

  it("prints the same pods table as it does without the proxy", async () => {
    const direct = await kubectl(world.kubeconfig, ["get", "pods"]);
    const through = await kubectl(admin.kubeconfigPath, ["get", "pods"]);
    expect(direct.code).toBe(0);
    expect(through.stderr).toBe("");
    expect(through.code).toBe(0);
    expect(through.stdout.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    // restart ages move between the two runs, and with them the padding of their column
    const steady = (t: string) => t.replace(/\(\S+ ago\)/g, "(ago)").replace(/ {2,}/g, "  ");
    expect(steady(through.stdout)).toBe(steady(direct.stdout));
  });

  it("records the pods list with its verb, resource, status, timing and upstream chain", async () => {
    const rows = await recorded(admin);
    const list = rows.find(({ row }) => row.verb === "list" && row.resource === "pods");
    expect(list).toBeDefined();
    const { row, ex } = list!;
    expect(row).toMatchObject({ method: "GET", path: "/api/v1/namespaces/default/pods", namespace: "default", status: 200, error: null, context: "demo-admin" });
    expect(row.durationMs).toBeGreaterThan(0);
    expect(ex.timing.totalMs).toBeGreaterThanOrEqual(ex.timing.ttfbMs);
    expect(ex.tls?.chain.length).toBeGreaterThanOrEqual(1);
    expect(ex.tls!.chain[0].san).toContain("IP:127.0.0.1");
    expect(ex.tls!.chain[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(ex.request.headers.authorization).toBe("Bearer [redacted]");
    expect(ex.request.headers.accept).toContain("as=Table");
    expect(ex.response?.body?.data).toContain('"kind":"Table"');
    // discovery happened first, on the same recording
    expect(rows.some(({ row }) => row.path === "/api")).toBe(true);
  });

  it("keeps the chain on every exchange of a reused connection", async () => {
    const rows = await recorded(admin);
    const reused = rows.filter(({ ex }) => ex.timing.reusedConnection && ex.response);
    expect(reused.length).toBeGreaterThan(0);
    for (const { ex } of reused) {
      expect(ex.tls?.chain.length).toBeGreaterThanOrEqual(1);
      expect(ex.timing.tlsMs).toBe(0);
    }
    const fresh = rows.find(({ ex }) => !ex.timing.reusedConnection && ex.response);
    expect(fresh!.ex.timing.tlsMs).toBeGreaterThan(0);
  });

  it("creates, reads and deletes a configmap, recording create, get and delete", async () => {
    expect((await kubectl(admin.kubeconfigPath, ["create", "configmap", "kw-test", "--from-literal=a=b", "--validate=false"])).stdout).toContain("configmap/kw-test created");
    const got = await kubectl(admin.kubeconfigPath, ["get", "configmap", "kw-test", "-o", "jsonpath={.data.a}"]);
    expect(got.stdout).toBe("b");
    expect((await kubectl(admin.kubeconfigPath, ["delete", "configmap", "kw-test"])).stdout).toContain('configmap "kw-test" deleted');
    const verbs = (await recorded(admin)).filter(({ row }) => row.resource === "configmaps" && row.path.startsWith("/api/v1/namespaces/default/configmaps")).map(({ row }) => row.verb);
    expect(verbs).toEqual(expect.arrayContaining(["create", "get", "delete"]));
  });

  it("passes a 403 through with the apiserver's RBAC message and records it", async () => {
    const viewer = await record(world, "demo-viewer");
    try {
      const r = await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe('Error from server (Forbidden): pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"');
      const row = (await recorded(viewer)).find(({ row }) => row.status === 403)!.row;
      expect(row).toMatchObject({ verb: "list", resource: "pods", namespace: "kube-system" });
    } finally {
      await viewer.stop(100);
    }
  });

  it("passes a 401 through for a token the cluster rejects, as kubectl shows it without the proxy", async () => {
    const bad = await record(world, "demo-bad-token");
    try {
      const r = await kubectl(bad.kubeconfigPath, ["get", "pods"]);
      const direct = await kubectl(world.kubeconfig, ["--context", "demo-bad-token", "get", "pods"], { cacheDir: `${world.dir}/bad-token-cache` });
      expect(r.code).toBe(1);
      const last = (t: string) => t.trim().split("\n").at(-1);
      expect(last(r.stderr)).toBe("error: You must be logged in to the server (the server has asked for the client to provide credentials)");
      expect(last(r.stderr)).toBe(last(direct.stderr));
      expect((await recorded(bad)).some(({ row }) => row.status === 401)).toBe(true);
    } finally {
      await bad.stop(100);
    }
  });

  it.each([
    ["demo-expired-cert", "CERT_HAS_EXPIRED", /x509: certificate has expired or is not yet valid/],
    ["demo-unknown-ca", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", /x509: certificate signed by unknown authority/],
    ["demo-wrong-san", "ERR_TLS_CERT_ALTNAME_INVALID", /x509: certificate is valid for 10\.96\.0\.1, not 127\.0\.0\.1/],
    ["demo-self-signed", "DEPTH_ZERO_SELF_SIGNED_CERT", /self-signed/],
    ["demo-refused", "ECONNREFUSED", /connection refused/],
    ["demo-dns", "ENOTFOUND", /no such host/],
  ])("with %s kubectl shows the kubewire explanation and the row holds %s", async (context, code, text) => {
    const s = await record(world, context);
    try {
      const r = await kubectl(s.kubeconfigPath, ["get", "pods", "--request-timeout=10s"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("kubewire: cannot reach the API server");
      expect(r.stderr).toMatch(text);
      const rows = await recorded(s);
      expect(rows.length).toBeGreaterThan(0);
      for (const { row } of rows) expect(row.error?.code).toBe(code);
      if (code.startsWith("CERT") || code.startsWith("ERR_TLS") || code.startsWith("DEPTH") || code.startsWith("UNABLE")) {
        expect(rows[0].ex.tls?.chain[0].subject).toContain("CN=");
      }
    } finally {
      await s.stop(100);
    }
  });

  it("names the TLS phase when the server accepts TCP but never speaks TLS", async () => {
    const s = await record(world, "demo-silent", { connectTimeoutMs: 300 });
    try {
      const r = await kubectl(s.kubeconfigPath, ["get", "--raw", "/version", "--request-timeout=10s"]);
      expect(r.stderr).toContain("TLS handshake");
      const { row, ex } = (await recorded(s))[0];
      expect(row.error?.code).toBe("ETIMEDOUT");
      expect(ex.error?.phase).toBe("tls");
    } finally {
      await s.stop(100);
    }
  });

  it("records a request the client gave up on as aborted by the client", async () => {
    const r = await kubectl(admin.kubeconfigPath, ["get", "pods", "-n", "hang", "--request-timeout=1s"]);
    expect(r.code).not.toBe(0);
    const { row } = await eventually(async () => (await recorded(admin)).filter(({ row }) => row.namespace === "hang").at(-1));
    expect(row.status).toBeNull();
    expect(row.error?.code).toBe("CLIENT_ABORTED");
  });

  it("records throttling and server errors with their status", async () => {
    await kubectl(admin.kubeconfigPath, ["get", "pods", "-n", "throttled", "--request-timeout=2s"]);
    await kubectl(admin.kubeconfigPath, ["get", "pods", "-n", "broken"]);
    const rows = await recorded(admin);
    const throttled = rows.find(({ row }) => row.namespace === "throttled" && row.status === 429);
    expect(throttled?.ex.response?.headers["retry-after"]).toBe("1");
    expect(rows.some(({ row }) => row.namespace === "broken" && row.status === 500)).toBe(true);
  });

  it("runs kubectl exec through the proxy over an upgraded connection", async () => {
    const r = await kubectl(admin.kubeconfigPath, ["exec", "web-1", "--", "echo", "hello"]);
    expect(r.stdout).toBe("hello\n");
    // recorded once both legs have closed, which may be just after kubectl exits
    const row = await eventually(async () => (await recorded(admin)).filter(({ row }) => row.subresource === "exec").at(-1));
    expect(row.row.status).toBe(101);
    expect(row.ex.stream?.kind).toBe("upgrade");
    expect(row.ex.stream!.bytesOut).toBeGreaterThan(0);
  });
});
