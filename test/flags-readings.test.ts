// Readings of `flags` and `show` that a user acts on, from real kubectl runs against the demo cluster:
// --limit scopes every kind, retry-storm stays quiet for what is not a storm, show and flags agree on
// a 429's retry, and the Role that show prints applies with kubectl as printed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Finding } from "../src/types.js";
import { Store, type ExchangeRow } from "../src/store/store.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, run, type World } from "./helpers/world.js";

async function flags(db: string, args: string[] = []): Promise<Finding[]> {
  const r = await kubewire(["flags", "--db", db, "-o", "json", ...args]);
  return JSON.parse(r.stdout) as Finding[];
}

/** Just enough of an API server for `kubectl apply --dry-run=client`: discovery of rbac.authorization.k8s.io, and 404 for any object. */
function rbacDiscoveryServer(): Promise<Server> {
  const resource = (name: string, kind: string, namespaced: boolean) => ({ name, singularName: kind.toLowerCase(), namespaced, kind, verbs: ["create", "get", "list", "patch"] });
  const answers: Record<string, unknown> = {
    "/api": { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1" }] },
    "/apis": { kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "rbac.authorization.k8s.io", versions: [{ groupVersion: "rbac.authorization.k8s.io/v1", version: "v1" }], preferredVersion: { groupVersion: "rbac.authorization.k8s.io/v1", version: "v1" } }] },
    "/api/v1": { kind: "APIResourceList", groupVersion: "v1", resources: [] },
    "/apis/rbac.authorization.k8s.io/v1": {
      kind: "APIResourceList", apiVersion: "v1", groupVersion: "rbac.authorization.k8s.io/v1",
      resources: [resource("roles", "Role", true), resource("rolebindings", "RoleBinding", true), resource("clusterroles", "ClusterRole", false), resource("clusterrolebindings", "ClusterRoleBinding", false)],
    },
  };
  const server = createServer((req, res) => {
    const body = answers[new URL(req.url ?? "/", "http://x").pathname];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: "not found" }));
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => done(server)));
}

describe.skipIf(!existsSync(KUBECTL))("flags and show readings on recorded kubectl runs", () => {
  let world: World;
  let db: string;
  let rows: ExchangeRow[];

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "rec.db");
    const viewer = await record(world, "demo-viewer", { db });
    for (let i = 0; i < 5; i++) await kubectl(viewer.kubeconfigPath, ["get", "--raw", "/api/v1/namespaces/kube-system/pods"]);
    await viewer.stop(100);
    const admin = await record(world, "demo-admin", { db });
    await kubectl(admin.kubeconfigPath, ["get", "pods", "-n", "throttled", "--request-timeout=6s"]);
    await admin.stop(100);
    const expired = await record(world, "demo-expired-cert", { db });
    await kubectl(expired.kubeconfigPath, ["get", "pods", "--request-timeout=5s"]);
    await expired.stop(100);
    const last = await record(world, "demo-admin", { db });
    for (let i = 0; i < 3; i++) await kubectl(last.kubeconfigPath, ["get", "--raw", "/version"]);
    await last.stop(100);
    const s = Store.open(db, { readonly: true });
    rows = s.list();
    s.close();
  }, 90_000);
  afterAll(async () => {
    await world?.close();
  });

  it("with --limit N, reports only problems among the newest N exchanges", async () => {
    const newest = new Set(rows.slice(-3).map((r) => r.id));
    expect(rows.slice(-3).every((r) => r.status === 200)).toBe(true);
    expect(await flags(db, ["--limit", "3"])).toEqual([]);
    const forbidden = (await flags(db, ["--flag", "forbidden", "--limit", String(rows.length - rows.findIndex((r) => r.status === 403) - 1)]))[0];
    expect(forbidden.count).toBe(4);
    expect(forbidden.requestIds.some((id) => newest.has(id))).toBe(false);
  });

  it("raises no retry-storm for separate kubectl runs, kubectl's own discovery retries, or 429s retried after Retry-After", async () => {
    expect(rows.filter((r) => r.status === 403).length).toBe(5);
    expect(rows.filter((r) => r.path === "/api" && r.context === "demo-expired-cert").length).toBeGreaterThanOrEqual(5);
    expect(rows.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
    const findings = await flags(db);
    expect(findings.map((f) => f.kind)).not.toContain("retry-storm");
    expect(findings.find((f) => f.kind === "throttled")!.message).toContain("the client honoured Retry-After");
  });

  it("says in show what flags says about whether a 429 was retried", async () => {
    const first = rows.find((r) => r.status === 429)!;
    const r = await kubewire(["show", String(first.id), "--db", db]);
    expect(r.stdout).toMatch(/throttled \(warning\): \d+ requests throttled with 429 \(Retry-After 1s\): the client honoured Retry-After\./);
    const json = JSON.parse((await kubewire(["show", String(first.id), "--db", db, "-o", "json"])).stdout);
    expect(json.flags.find((f: { kind: string }) => f.kind === "throttled").message).toContain("the client honoured Retry-After");
  });

  it("prints in show a Role and RoleBinding that kubectl apply --dry-run=client accepts as printed", async () => {
    const forbidden = rows.find((r) => r.status === 403)!;
    const page = (await kubewire(["show", String(forbidden.id), "--db", db])).stdout.split("\n");
    const start = page.findIndex((l) => l.includes("apply this (kubectl apply -f -):")) + 1;
    const end = page.findIndex((l, i) => i > start && l.startsWith("    - then check it with:"));
    expect(start).toBeGreaterThan(0);
    const manifest = page.slice(start, end).map((l) => l.replace(/^ {6}/, "")).join("\n");
    expect(manifest).toMatch(/^apiVersion: rbac.authorization.k8s.io\/v1\nkind: Role\n/);
    const file = join(world.dir, "role.yaml");
    writeFileSync(file, `${manifest}\n`);
    const server = await rbacDiscoveryServer();
    try {
      const kc = join(world.dir, "rbac.kubeconfig");
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      writeFileSync(kc, `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${url}"}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`);
      const applied = await run(KUBECTL, ["--kubeconfig", kc, "--cache-dir", join(world.dir, "rbac-cache"), "apply", "--dry-run=client", "--validate=false", "-f", file]);
      expect(applied.stderr).toBe("");
      expect(applied.stdout).toBe("role.rbac.authorization.k8s.io/viewer-list-pods created (dry run)\nrolebinding.rbac.authorization.k8s.io/viewer-list-pods created (dry run)\n");
    } finally {
      server.close();
    }
  });
});
