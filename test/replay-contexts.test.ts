// `kubewire replay --failed` over a recording made with several contexts: each failure goes back to
// the context and server it was recorded against, identical requests are sent once, and an answer
// from another server is never reported as a fix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { Store, type ExchangeRow } from "../src/store/store.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type World } from "./helpers/world.js";

describe.skipIf(!existsSync(KUBECTL))("kubewire replay --failed over a recording of several contexts", () => {
  let world: World;
  let db: string;
  let common: string[];
  let rows: ExchangeRow[];

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "recording.db");
    common = ["--db", db, "--state-dir", join(world.dir, "state")];
    const viewer = await record(world, "demo-viewer", { db });
    for (let i = 0; i < 2; i++) expect((await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"])).stderr).toContain("Forbidden");
    await viewer.stop(100);
    const expired = await record(world, "demo-expired-cert", { db });
    expect((await kubectl(expired.kubeconfigPath, ["get", "--raw", "/version"])).code).toBe(1);
    expect((await kubectl(expired.kubeconfigPath, ["get", "--raw", "/version"])).code).toBe(1);
    await expired.stop(100);
    const s = Store.open(db, { readonly: true });
    rows = s.list();
    s.close();
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  const failed = () => rows.filter((r) => r.status === null || r.status >= 400 || r.error !== null);
  /** kubectl repeats the same request in each run: one send per context, path and query */
  const distinctOf = (rs: ExchangeRow[]) => new Set(rs.map((r) => `${r.context} ${r.path}?${r.query}`)).size;

  it("sends each failure to the context it was recorded with, once per distinct request, and reports no false fix", async () => {
    const version = failed().filter((r) => r.path === "/version" && r.query === "");
    expect(version.length).toBeGreaterThanOrEqual(2);
    const r = await kubewire(["replay", "--failed", "--kubeconfig", world.kubeconfig, ...common]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("with context demo-viewer (user demo-viewer)");
    expect(r.stdout).toContain(`with context demo-expired-cert (user demo-admin) at ${new URL(world.cluster.failures.expiredUrl).origin}`);
    expect(r.stdout).toContain(`#${version[0].id} GET /version   (also #${version[1].id}`);
    expect(r.stdout).toContain(`: ${version.length} recorded)`);
    expect(r.stdout).toMatch(/status {3}CERT_HAS_EXPIRED → CERT_HAS_EXPIRED {3}still fails/);
    expect(r.stdout).toMatch(/status {3}403 → 403 {3}still fails/);
    expect(r.stdout).not.toContain("now succeeds");
    const n = distinctOf(failed());
    expect(n).toBeLessThan(failed().length);
    expect(r.stdout).toMatch(new RegExp(`\\n${n} distinct requests \\(${failed().length} recorded\\): ${n} still fail, 0 now succeed\\n$`));
    expect(r.code).toBe(1);
  });

  it("with --context, warns that answers from another server are not fixes and does not count them", async () => {
    const r = await kubewire(["replay", "--failed", "--context", "demo-admin", "--kubeconfig", world.kubeconfig, "-o", "json", ...common]);
    const elsewhere = distinctOf(failed().filter((x) => x.context === "demo-expired-cert"));
    expect(r.stderr).toContain(`kubewire: WARNING: ${elsewhere} requests were recorded against ${new URL(world.cluster.failures.expiredUrl).origin}, not ${new URL(world.cluster.url).origin}`);
    expect(r.stderr).toContain("not counted as fixes");
    const out = JSON.parse(r.stdout);
    const byPath = (p: string) => out.replayed.find((c: { path: string }) => c.path === p);
    expect(out.replayed.find((c: { path: string; query: string }) => c.path === "/version" && c.query === "")).toMatchObject({ verdict: "answered by another server", succeeds: true, target: { sameServer: false, recordedContext: "demo-expired-cert" } });
    expect(byPath("/api/v1/namespaces/kube-system/pods")).toMatchObject({ verdict: "now succeeds", ids: expect.arrayContaining([expect.any(Number), expect.any(Number)]) });
    expect(out.summary).toMatchObject({ replayed: elsewhere + 1, recorded: failed().length, succeeded: 1, failed: 0, otherServer: elsewhere });
    expect(r.code).toBe(1);
  });

  it("refuses a failure whose context is gone or now points at another server, saying why", async () => {
    const doc = parse(readFileSync(world.kubeconfig, "utf8"));
    doc.contexts = doc.contexts.filter((c: { name: string }) => c.name !== "demo-viewer");
    doc.clusters.find((c: { name: string }) => c.name === "demo-expired-cert").cluster.server = world.cluster.url;
    const moved = join(world.dir, "moved.kubeconfig");
    writeFileSync(moved, stringify(doc), { mode: 0o600 });
    const r = await kubewire(["replay", "--failed", "--kubeconfig", moved, ...common]);
    expect(r.stdout).toContain(`it was recorded against ${new URL(world.cluster.failures.expiredUrl).origin}, but context "demo-expired-cert" now points at ${new URL(world.cluster.url).origin}`);
    expect(r.stdout).toContain(`it was recorded with context "demo-viewer", which cannot be used now: context "demo-viewer" not found in ${moved}; pass --context NAME`);
    expect(r.stdout).toContain(`nothing replayed: all ${failed().length} selected requests were refused`);
    expect(r.code).toBe(1);
  });
});
