// A kubeconfig whose cluster has a proxy-url pointing at a proxy that refuses connections: kubectl's
// error line and `kubewire flags` speak of that proxy and its proxy-url, not of an API server that was
// never tried; the recorded error says which proxy it was (never the proxy-url's credentials).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { Finding } from "../src/types.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type Run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the proxy-url tests are SKIPPED ***\n`);

describe.skipIf(!haveKubectl)("a cluster reached through a proxy-url that refuses connections", () => {
  let world: World;
  let db: string;
  let proxy: string;
  let run: Run;

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "proxied.db");
    // the demo's refused address stands for a proxy that is not running; user:secret must never be recorded
    const port = new URL(world.cluster.failures.refusedUrl).port;
    proxy = `http://127.0.0.1:${port}`;
    const cfg = parse(readFileSync(world.kubeconfig, "utf8"));
    const cluster = cfg.contexts.find((c: { name: string }) => c.name === "demo-admin").context.cluster;
    cfg.clusters.find((c: { name: string }) => c.name === cluster).cluster["proxy-url"] = `http://user:s3cretpw@127.0.0.1:${port}`;
    const file = join(world.dir, "proxied.kubeconfig");
    writeFileSync(file, stringify(cfg), { mode: 0o600 });
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { db });
    run = await kubectl(s.kubeconfigPath, ["get", "pods", "--request-timeout=5s"]);
    const rows = await recorded(s);
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain("s3cretpw");
    await s.stop(100);
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it("tells kubectl's user the proxy refused, with advice about the proxy-url", () => {
    expect(run.code).toBe(1);
    const last = run.stderr.trimEnd().split("\n").at(-1)!;
    expect(last).toContain(`through the proxy ${proxy} (the cluster's proxy-url)`);
    expect(last).toContain("[ECONNREFUSED, connect] -- fix: is the proxy running, and are the host and port of the cluster's proxy-url right?");
    expect(last).not.toContain("is the API server running");
    expect(run.stderr).not.toContain("s3cretpw");
  });

  it("flags the refused proxy, not the API server", async () => {
    const r = await kubewire(["flags", "--db", db, "-o", "json"]);
    const refused = (JSON.parse(r.stdout) as Finding[]).find((f) => f.kind === "refused")!;
    expect(refused.message).toMatch(new RegExp(`failed: nothing accepts connections at the proxy ${proxy.replace(/\./g, "\\.")} \\(proxy-url of context "demo-admin"\\)\\.$`));
    expect(refused.advice[0]).toBe(`the API server was never tried: nothing accepts connections at the proxy ${proxy}, the proxy-url of the cluster of context "demo-admin"`);
    expect(refused.advice.join("\n")).not.toContain("is the API server running");
    expect(refused.evidence[0]).toContain(`through the proxy ${proxy}: ECONNREFUSED`);
    expect(r.stdout).not.toContain("s3cretpw");
  });
});
