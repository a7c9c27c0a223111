// A second `kubewire exec -- kubectl get pods` listens where the first did (a stable port per cluster
// entry), so kubectl finds its discovery cache (kept per host:port) warm and sends what it sends without kubewire.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

describe.skipIf(!haveKubectl)("kubewire exec keeps kubectl's caches warm", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => world?.close());

  it("sends on the second exec of kubectl get pods what kubectl sends with a warm cache", async () => {
    // what kubectl sends with a warm cache, seen through a long-running session
    const s = await record(world, "demo-admin", { db: join(world.dir, "direct.db") });
    let warm: number;
    try {
      const cache = join(world.dir, "cache-session");
      await kubectl(s.kubeconfigPath, ["get", "pods"], { cacheDir: cache });
      const before = (await recorded(s)).length;
      await kubectl(s.kubeconfigPath, ["get", "pods"], { cacheDir: cache });
      warm = (await recorded(s)).length - before;
    } finally {
      await s.stop(100);
    }
    const db = join(world.dir, "exec.db");
    const count = async () => JSON.parse((await kubewire(["ls", "--db", db, "-o", "json"])).stdout).length as number;
    const exec = (...flags: string[]) => kubewire(["exec", "-q", "--kubeconfig", world.kubeconfig, "--db", db, "--state-dir", join(world.dir, "state"), "--", KUBECTL, "--cache-dir", join(world.dir, "cache-exec"), ...flags, "get", "pods"]);
    expect((await exec()).code).toBe(0);
    const first = await count();
    const second = await exec();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("web-1");
    expect(first).toBeGreaterThan(warm); // the first run fills the cache
    expect((await count()) - first).toBe(warm);
    // another context of the same cluster finds the same endpoint, so the same warm cache, as directly (the cache is kept per server)
    const before = await count();
    const viewer = await exec("--context", "demo-viewer");
    expect(viewer.code).toBe(0);
    expect((await count()) - before).toBe(warm);
  }, 180_000); // about a dozen kubewire and kubectl processes in a row, each a whole Node or Go start-up
});
