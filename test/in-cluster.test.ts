// In-cluster capture in a simulated pod: a service-account directory whose token the demo cluster
// knows as system:serviceaccount:apps:operator, the cluster CA, KUBERNETES_SERVICE_*; kubectl and
// @kubernetes/client-node use the kubeconfig kubewire wrote, and the pod's own identity reaches the API server.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startInClusterSession, type RecordingSession } from "../src/session/recording-session.js";
import { serviceAccountOf } from "../src/kubeconfig/in-cluster.js";
import { Store } from "../src/store/store.js";
import { parseSourceSelector } from "../src/store/source-selector.js";
import { hostname } from "node:os";
import { demoWorld, kubectl, KUBECTL, recorded, ROOT, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
const SA = "system:serviceaccount:apps:operator";
const POD = "operator-7d9f8c6b5-x2kqp";

describe.skipIf(!haveKubectl)("kubewire start --in-cluster in a simulated pod", () => {
  let world: World;
  let session: RecordingSession;
  let saDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    world = await demoWorld();
    saDir = join(world.dir, "serviceaccount");
    mkdirSync(saDir);
    writeFileSync(join(saDir, "token"), world.cluster.users.serviceAccount.token!);
    writeFileSync(join(saDir, "ca.crt"), world.cluster.caPem);
    writeFileSync(join(saDir, "namespace"), "apps");
    const address = new URL(world.cluster.url);
    // HOSTNAME: the kubelet sets it to the pod's name
    env = { KUBERNETES_SERVICE_HOST: address.hostname, KUBERNETES_SERVICE_PORT: address.port, HOSTNAME: POD };
    session = await startInClusterSession({
      inCluster: { saDir, env },
      listen: { host: "127.0.0.1", port: 0 },
      stateDir: join(world.dir, "state"),
      db: join(world.dir, "in-cluster.db"),
      writeKubeconfig: join(world.dir, "shared", "kubeconfig"),
      warn: () => undefined,
    });
  });
  afterAll(async () => {
    await session?.stop(0);
    await world?.close();
  });

  it("writes a kubeconfig that reaches kubewire with its client certificate and the projected token file", () => {
    const text = readFileSync(session.kubeconfigPath, "utf8");
    expect(text).toContain(`server: "${session.proxy.url}"`);
    expect(text).toContain("client-certificate-data:");
    expect(text).toContain(`tokenFile: "${join(saDir, "token")}"`);
    expect(text).toContain('namespace: "apps"');
    expect(text).not.toContain(world.cluster.users.serviceAccount.token!);
  });

  it("passes kubectl's requests through with the pod's identity: the RBAC answers are the service account's own", async () => {
    const allowed = await kubectl(session.kubeconfigPath, ["get", "pods"]);
    expect(allowed.stderr).toContain("No resources found in apps namespace.");
    expect(allowed.code).toBe(0);
    const denied = await kubectl(session.kubeconfigPath, ["get", "pods", "-n", "default"]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`Error from server (Forbidden): pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "default"`);
    const whoami = await kubectl(session.kubeconfigPath, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    expect(whoami.stdout).toBe(SA);
  });

  it("passes a @kubernetes/client-node program's requests through, and its 403 names the service account", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(session.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const mine = await core.listNamespacedPod({ namespace: "apps" });
    expect(mine.items).toEqual([]);
    const err = await core.listNamespacedPod({ namespace: "kube-system" }).then(
      () => null,
      (e: { code?: number; body?: string }) => e,
    );
    expect(err?.code).toBe(403);
    expect(JSON.parse(String(err?.body)).message).toBe(`pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "kube-system"`);
  });

  it("records which service account made each request, in which pod and namespace, and never its token", async () => {
    await kubectl(session.kubeconfigPath, ["get", "configmaps"]);
    const rows = await recorded(session);
    const forwarded = rows.filter(({ ex }) => ex.request.method !== "");
    expect(forwarded.length).toBeGreaterThan(3);
    expect(session.source.run).toMatch(/^[0-9a-f]{8}$/);
    const source = { host: hostname(), run: session.source.run, pod: POD, namespace: "apps", serviceAccount: SA };
    for (const { ex, row } of forwarded) {
      expect(ex.source).toEqual(source);
      expect(row.source).toEqual(source);
    }
    const store = Store.open(session.dbPath, { readonly: true });
    try {
      expect(store.count({ source: parseSourceSelector("sa=apps:operator") })).toBe(forwarded.length);
      expect(store.count({ source: parseSourceSelector(`${session.source.run}@apps/${POD}`) })).toBe(rows.length);
      expect(store.count({ source: parseSourceSelector("sa=default:default") })).toBe(0);
    } finally {
      store.close();
    }
    const listed = forwarded.find(({ row }) => row.resource === "configmaps" && row.verb === "list");
    expect(listed?.row.status).toBe(200);
    const token = world.cluster.users.serviceAccount.token!;
    const signature = token.split(".")[2];
    for (const file of [session.dbPath, `${session.dbPath}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      expect(bytes.includes(token)).toBe(false);
      expect(bytes.includes(signature)).toBe(false);
    }
  });

  it("keeps working when the kubelet rotates the token: later requests carry the new one", async () => {
    const old = world.cluster.users.serviceAccount.token!;
    const fresh = world.cluster.rotateServiceAccountToken();
    writeFileSync(join(saDir, "token"), fresh);
    world.cluster.revokeToken(old);
    const after = await kubectl(session.kubeconfigPath, ["get", "pods"]);
    expect(after.stderr).toContain("No resources found in apps namespace.");
    const kc = new KubeConfig();
    kc.loadFromFile(session.kubeconfigPath);
    expect((await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "apps" })).items).toEqual([]);
    // and the old token is really refused, so the answers above came with the new one
    writeFileSync(join(saDir, "token"), old);
    const stale = await kubectl(session.kubeconfigPath, ["get", "pods"]);
    expect(stale.stderr).toContain("error: You must be logged in to the server (Unauthorized)");
    writeFileSync(join(saDir, "token"), fresh);
  });

  it("refuses a client without kubewire's client certificate, even one holding a valid token", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${session.proxy.url}/api/v1/namespaces/apps/pods`, { ca: session.client.caPem, headers: { authorization: `Bearer ${readFileSync(join(saDir, "token"), "utf8")}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(401);
  });

  it("listens on the pod's loopback only", async () => {
    await expect(
      startInClusterSession({ inCluster: { saDir, env }, listen: { host: "0.0.0.0", port: 0 }, allowRemote: true, stateDir: join(world.dir, "state"), warn: () => undefined }),
    ).rejects.toThrow("--in-cluster listens on the pod's loopback only");
  });

  it("fails as client-go's InClusterConfig does outside a pod", async () => {
    await expect(startInClusterSession({ inCluster: { saDir, env: {} }, listen: { host: "127.0.0.1", port: 0 }, stateDir: join(world.dir, "state"), warn: () => undefined })).rejects.toThrow(
      "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
    );
  });

  it("starts from the command line with --in-cluster --sa-dir and a shared directory", async () => {
    const shared = join(world.dir, "cli-shared");
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "start", "--in-cluster", "--sa-dir", saDir, "--shared-dir", shared, "--listen", "127.0.0.1:0", "--state-dir", join(world.dir, "cli-state"), "--db", join(world.dir, "cli.db")], {
      env: { ...process.env, ...env },
    });
    let out = "";
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("export KUBECONFIG=")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`kubewire exited with ${code}: ${out}`)));
      });
      expect(out).toContain("each client's own service account token passes through");
      expect(out).toContain(`export KUBECONFIG=${join(shared, "kubeconfig")}`);
      expect(readFileSync(join(shared, "ca.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
      const r = await kubectl(join(shared, "kubeconfig"), ["get", "pods", "-n", "default"]);
      expect(r.stderr).toContain(`User "${SA}" cannot list resource "pods"`);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });
});

describe("the service account named by a bearer token", () => {
  const jwt = (payload: object) => `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.c2ln`;
  it.each([
    ["a projected token's kubernetes.io claims", `Bearer ${jwt({ "kubernetes.io": { namespace: "ns1", serviceaccount: { name: "app" } }, sub: "system:serviceaccount:ns1:app" })}`, "system:serviceaccount:ns1:app"],
    ["a legacy Secret token's claims", `Bearer ${jwt({ "kubernetes.io/serviceaccount/namespace": "ns2", "kubernetes.io/serviceaccount/service-account.name": "old" })}`, "system:serviceaccount:ns2:old"],
    ["a sub claim alone", `Bearer ${jwt({ sub: "system:serviceaccount:ns3:bot" })}`, "system:serviceaccount:ns3:bot"],
    ["an OIDC user's token", `Bearer ${jwt({ sub: "alice" })}`, null],
    ["an opaque token", "Bearer abcdef", null],
    ["basic credentials", "Basic dXNlcjpwdw==", null],
    ["no header", undefined, null],
  ])("is read from %s", (_what, header, expected) => {
    expect(serviceAccountOf(header)).toBe(expected);
  });
});
