// The demo cluster as a user sees it: real kubectl (and @kubernetes/client-node) against
// the simulated API server, asserting exactly what they print.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoCluster, type DemoCluster } from "../src/demo/cluster.js";
import { writeDemoKubeconfig } from "../src/demo/kubeconfig.js";
import { eventually } from "./helpers/world.js";

let cluster: DemoCluster;
let dir: string;
let kubeconfig: string;

interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

function kubectl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache"), ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 });
    });
  });
}

/** A raw HTTPS request to the healthy server, for exact bodies and headers. */
function raw(path: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(cluster.url + path, { method, ca: cluster.caPem, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const admin = (): Record<string, string> => ({ Authorization: `Bearer ${cluster.users.admin.token}` });

beforeAll(async () => {
  cluster = await startDemoCluster({ slowMs: 300, bigListBytes: 1024 * 1024 });
  dir = mkdtempSync(join(tmpdir(), "kubewire-demo-"));
  kubeconfig = join(dir, "kubeconfig");
  writeDemoKubeconfig(cluster, kubeconfig);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("kubectl against the healthy server", () => {
  it("writes a private kubeconfig whose current context is the admin", async () => {
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const r = await kubectl("config", "current-context");
    expect(r.stdout).toBe("demo-admin\n");
  });

  it("prints the pods table as on a real cluster", async () => {
    const r = await kubectl("get", "pods");
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["db-0", "1/1", "Running"],
      ["web-1", "1/1", "Running"],
      ["web-2", "1/1", "Running"],
    ]);
    expect(lines[1]).toMatch(/ 3 \(5m\d*s? ago\) +5d$/);
    expect(lines[2]).toMatch(/ 0 +2d3h$/);
  });

  it("prints the wide columns with -o wide", async () => {
    const r = await kubectl("get", "pods", "-o", "wide");
    expect(r.stdout.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/);
    expect(r.stdout).toMatch(/web-1 .* 10\.244\.1\.5 +demo-worker +<none> +<none>/);
  });

  it("prints deployments, services and namespaces with their own columns", async () => {
    const r = await kubectl("get", "deploy,svc");
    expect(r.stdout).toMatch(/^NAME +READY +UP-TO-DATE +AVAILABLE +AGE\ndeployment.apps\/web +2\/2 +2 +2 +2d3h\n/);
    expect(r.stdout).toMatch(/NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE\n/);
    expect(r.stdout).toMatch(/service\/db +NodePort +10\.96\.201\.7 +<none> +5432:30432\/TCP +3d/);
    const ns = await kubectl("get", "ns", "kube-system");
    expect(ns.stdout).toMatch(/^NAME +STATUS +AGE\nkube-system +Active +12d\n$/);
  });

  it("creates, shows as YAML and deletes a configmap", async () => {
    expect((await kubectl("create", "configmap", "x", "--from-literal=a=b")).stdout).toBe("configmap/x created\n");
    const again = await kubectl("create", "configmap", "x", "--from-literal=a=b");
    expect(again.stderr).toBe('error: failed to create configmap: configmaps "x" already exists\n');
    const yaml = await kubectl("get", "cm", "x", "-o", "yaml");
    expect(yaml.stdout).toMatch(/^apiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  creationTimestamp: "[^"]+"\n  name: x\n  namespace: default\n  resourceVersion: "\d+"\n  uid: [0-9a-f-]{36}\n$/);
    expect((await kubectl("delete", "cm", "x")).stdout).toBe('configmap "x" deleted\n');
    const gone = await kubectl("get", "cm", "x");
    expect(gone.stderr).toBe('Error from server (NotFound): configmaps "x" not found\n');
    expect(gone.code).toBe(1);
  });

  it("tells who the user is with auth whoami", async () => {
    const r = await kubectl("auth", "whoami");
    expect(r.stdout).toBe("ATTRIBUTE   VALUE\nUsername    kubernetes-admin\nGroups      [kubeadm:cluster-admins system:authenticated]\n");
    const cert = await kubectl("--context", "demo-cert", "auth", "whoami");
    expect(cert.stdout).toContain("Username    cert-user\nGroups      [system:masters system:authenticated]");
  });

  it("answers auth can-i, which kubectl posts as protobuf", async () => {
    expect((await kubectl("auth", "can-i", "delete", "nodes")).stdout).toBe("yes\n");
    expect((await kubectl("--context", "demo-viewer", "auth", "can-i", "list", "pods")).stdout).toBe("yes\n");
    const no = await kubectl("--context", "demo-viewer", "auth", "can-i", "create", "deployments");
    expect(no.stdout).toBe("no\n");
    expect(no.code).toBe(1);
  });

  it("runs a command in a pod over WebSocket with exec", async () => {
    const r = await kubectl("exec", "web-1", "--", "echo", "hello");
    expect(r).toEqual({ stdout: "hello\n", stderr: "", code: 0 });
    expect((await kubectl("exec", "web-1", "--", "ls", "/")).stdout).toBe("demo: ls /\n");
  });

  it("prints a pod's logs", async () => {
    const r = await kubectl("logs", "web-1", "--tail=2");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^10\.244\.1\.\d - - \[.*\] "GET \/\S+ HTTP\/1\.1" 200 \d+ "-" "kube-probe\/1\.32"$/);
  });

  it("lists readiness checks with get --raw /readyz?verbose", async () => {
    const r = await kubectl("get", "--raw", "/readyz?verbose");
    expect(r.stdout.startsWith("[+]ping ok\n[+]log ok\n[+]etcd ok\n")).toBe(true);
    expect(r.stdout.endsWith("[+]shutdown ok\nreadyz check passed\n")).toBe(true);
  });

  it("shows the server version", async () => {
    expect((await kubectl("version")).stdout).toContain("Server Version: v1.32.0\n");
  });

  it("lets a client certificate and basic auth in", async () => {
    for (const context of ["demo-cert", "demo-basic"]) {
      const r = await kubectl("--context", context, "get", "pods", "-n", "kube-system", "-o", "name");
      expect(r.stdout).toContain("pod/etcd-demo-control-plane\n");
    }
  });

  it("prints a new pod with get -w until the request timeout", async () => {
    const watching = kubectl("get", "pods", "-w", "--request-timeout=2s");
    await new Promise((r) => setTimeout(r, 700));
    await kubectl("run", "watched", "--image=busybox");
    const r = await watching;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nwatched +0\/1 +Pending +0 +\d+s\n/);
    await kubectl("delete", "pod", "watched", "--wait=false");
  });
});

describe("kubectl against refusals and failures", () => {
  it("prints the exact Forbidden line for the viewer outside its namespace", async () => {
    const r = await kubectl("--context", "demo-viewer", "get", "pods", "-n", "kube-system");
    expect(r.stderr).toBe('Error from server (Forbidden): pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"\n');
  });

  it.each([
    [["get", "nodes"], 'Error from server (Forbidden): nodes is forbidden: User "viewer" cannot list resource "nodes" in API group "" at the cluster scope\n'],
    [["delete", "pod", "web-1"], 'Error from server (Forbidden): pods "web-1" is forbidden: User "viewer" cannot delete resource "pods" in API group "" in the namespace "default"\n'],
    [["exec", "web-1", "--", "echo", "hi"], 'Error from server (Forbidden): pods "web-1" is forbidden: User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "default"\n'],
    [["create", "deployment", "d", "--image=nginx"], 'error: failed to create deployment: deployments.apps is forbidden: User "viewer" cannot create resource "deployments" in API group "apps" in the namespace "default"\n'],
  ])("forbids the viewer %j", async (args, line) => {
    const r = await kubectl("--context", "demo-viewer", ...args);
    expect(r.stderr).toBe(line);
  });

  it.each(["demo-bad-token", "demo-expired-jwt"])("asks %s to log in", async (context) => {
    const r = await kubectl("--context", context, "get", "pods");
    expect(r.stderr.trimEnd().split("\n").pop()).toBe("error: You must be logged in to the server (Unauthorized)");
  });

  it.each([
    ["demo-expired-cert", /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time \S+ is after \S+$/],
    ["demo-not-yet-valid", /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time \S+ is before \S+$/],
    ["demo-unknown-ca", /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority$/],
    ["demo-self-signed", /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority$/],
    ["demo-wrong-san", /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate is valid for 10\.96\.0\.1, not 127\.0\.0\.1$/],
    ["demo-refused", /^The connection to the server 127\.0\.0\.1:\d+ was refused - did you specify the right host or port\?$/],
  ])("shows the connection error for %s", async (context, line) => {
    const r = await kubectl("--context", context, "get", "pods");
    expect(r.stderr.trimEnd().split("\n").pop()).toMatch(line);
  });

  it("keeps retrying a throttled namespace until the request timeout", async () => {
    const r = await kubectl("get", "pods", "-n", "throttled", "--request-timeout=2s");
    expect(r.stderr).toBe("client rate limiter Wait returned an error: context deadline exceeded\n");
  });

  it("shows the internal error of the broken namespace", async () => {
    const r = await kubectl("get", "pods", "-n", "broken");
    expect(r.stderr).toBe("Error from server (InternalError): Internal error occurred: etcdserver: request timed out\n");
  });

  it("answers the slow namespace late and the hang namespace never", async () => {
    const t0 = Date.now();
    expect((await kubectl("get", "pods", "-n", "slow", "-o", "name")).stdout).toBe("pod/slow-0\n");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    const hang = await kubectl("get", "pods", "-n", "hang", "--request-timeout=1s");
    // Which of the two timeouts fires first (client's or context's) is a race inside kubectl.
    expect(hang.stderr).toMatch(/^Unable to connect to the server: (net\/http: request canceled \(Client\.Timeout exceeded while awaiting headers\)|context deadline exceeded( \(Client\.Timeout exceeded while awaiting headers\))?)\n$/);
  });
});

describe("the API on the wire", () => {
  it("answers 401 with the apiserver's Status", async () => {
    const r = await raw("/api/v1/pods");
    expect(r.status).toBe(401);
    expect(r.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}\n');
    expect(r.headers["audit-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers["cache-control"]).toBe("no-cache, private");
  });

  it("answers 403 and 404 with details as the apiserver builds them", async () => {
    const f = await raw("/apis/apps/v1/namespaces/default/deployments/web", { Authorization: `Bearer ${cluster.users.viewer.token}` });
    expect(JSON.parse(f.body)).toEqual({
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure",
      message: 'deployments.apps "web" is forbidden: User "viewer" cannot get resource "deployments" in API group "apps" in the namespace "default"',
      reason: "Forbidden", details: { name: "web", group: "apps", kind: "deployments" }, code: 403,
    });
    const n = await raw("/api/v1/namespaces/default/pods/x", admin());
    expect(n.body).toBe('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}\n');
    expect(n.headers["x-kubernetes-pf-flowschema-uid"]).toBeTruthy();
  });

  it("throttles with 429, Retry-After and the APF headers", async () => {
    const r = await raw("/api/v1/namespaces/throttled/pods", admin());
    expect(r.status).toBe(429);
    expect(r.headers["retry-after"]).toBe("1");
    expect(r.headers["x-kubernetes-pf-prioritylevel-uid"]).toBeTruthy();
    expect(r.body).toBe("Too many requests, please try again later.\n");
  });

  it("answers a protobuf-only Accept in protobuf, 406 for a kind it cannot encode, and serves legacy discovery for aggregated requests", async () => {
    const pods = await raw("/api/v1/pods", { ...admin(), Accept: "application/vnd.kubernetes.protobuf" });
    expect(pods.status).toBe(200);
    expect(pods.headers["content-type"]).toBe("application/vnd.kubernetes.protobuf");
    expect((await raw("/api/v1/nodes", { ...admin(), Accept: "application/vnd.kubernetes.protobuf" })).status).toBe(406);
    const d = await raw("/apis", { ...admin(), Accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json" });
    expect(d.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(d.body).kind).toBe("APIGroupList");
  });

  it("streams the big namespace's configmaps without limits", async () => {
    const r = await raw("/api/v1/namespaces/big/configmaps", admin());
    expect(r.body.length).toBeGreaterThanOrEqual(1024 * 1024);
    const list = JSON.parse(r.body);
    expect(list.kind).toBe("ConfigMapList");
    expect(list.items[0].metadata.name).toBe("big-000000");
  });

  it("serves @kubernetes/client-node: listNamespacedPod and a Watch that sees a create", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: "default" });
    expect(pods.items.map((p) => p.metadata?.name)).toEqual(["db-0", "web-1", "web-2"]);
    const seen: string[] = [];
    const got = new Promise<void>((resolve) => {
      void new Watch(kc)
        .watch("/api/v1/namespaces/default/configmaps", { resourceVersion: pods.metadata?.resourceVersion }, (type, obj: { metadata: { name: string } }) => {
          seen.push(`${type} ${obj.metadata.name}`);
          if (obj.metadata.name === "watched-cm") resolve();
        }, () => {})
        .then((ctl) => got.finally(() => ctl.abort()));
    });
    await new Promise((r) => setTimeout(r, 200));
    await kubectl("create", "configmap", "watched-cm", "--from-literal=a=b");
    await got;
    expect(seen).toEqual(["ADDED watched-cm"]);
  });

  it("answers an SPDY/3.1 exec upgrade with 101 and echoes bytes back", async () => {
    const { connect } = await import("node:tls");
    const u = new URL(cluster.url);
    const sock = connect({ host: u.hostname, port: Number(u.port), ca: cluster.caPem, servername: "localhost" });
    let data = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => (data += d));
    await new Promise<void>((r) => sock.once("secureConnect", () => r()));
    sock.write(`POST /api/v1/namespaces/default/pods/web-1/exec?command=sh HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cluster.users.admin.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`);
    await new Promise((r) => setTimeout(r, 100));
    sock.write("ping-bytes");
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    expect(data).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(data).toContain("Upgrade: SPDY/3.1\r\n");
    expect(data).toContain("X-Stream-Protocol-Version: v4.channel.k8s.io\r\n");
    expect(data.endsWith("\r\n\r\nping-bytes")).toBe(true);
  });

  it("closes promptly with a watch and a hanging request open", async () => {
    const c = await startDemoCluster();
    const open = (path: string): Promise<string> =>
      new Promise((resolve) => {
        const req = request(c.url + path, { ca: c.caPem, headers: { Authorization: `Bearer ${c.users.admin.token}` } }, (res) => {
          res.resume();
          res.on("close", () => resolve("closed"));
        });
        req.on("error", () => resolve("error"));
        req.end();
      });
    const watch = open("/api/v1/pods?watch=true");
    const hang = open("/api/v1/namespaces/hang/pods");
    await eventually(() => (c.requests === 2 ? true : undefined)); // both are open at the cluster
    await c.close(); // a close that waited on the open watch would end this test by its timeout
    expect(await Promise.all([watch, hang])).toEqual(["closed", "error"]);
  });
});
