// A second `kubewire exec -- kubectl get pods` listens where the first did (a stable port per cluster
// entry), so kubectl finds its discovery cache (kept per host:port) warm and sends what it sends without kubewire.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";
import { copyHandshake, countUse } from "../src/proxy/upstream-target.js";
import type { ConnectionInfo } from "../src/tls/upstream-agent.js";
import { exchange } from "./fixtures/exchange.js";

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

  it("opens the upstream connection while the command starts, and still records an unreachable API server on the request that meets it", async () => {
    const db = join(world.dir, "preconnect.db");
    const run = (kubeconfig: string) => kubewire(["exec", "-q", "--kubeconfig", kubeconfig, "--db", db, "--state-dir", join(world.dir, "state"), "--", KUBECTL, "--cache-dir", join(world.dir, "cache-preconnect"), "get", "pods"]);
    expect((await run(world.kubeconfig)).code).toBe(0);
    const rows = JSON.parse((await kubewire(["ls", "--db", db, "-o", "json"])).stdout) as Array<{ id: number }>;
    const shown = await Promise.all(rows.map(async (r) => JSON.parse((await kubewire(["show", String(r.id), "--db", db, "-o", "json"])).stdout)));
    expect(shown.length).toBeGreaterThan(0);
    // every request, the first included, rode the session kubewire opened before kubectl's first request arrived
    for (const ex of shown) {
      expect(ex.timing.reusedConnection).toBe(true);
      expect(ex.connection.upstream.id).toBe(shown[0].connection.upstream.id);
    }
    // an API server that refuses connections: the early connection fails quietly, the request that meets the failure records it
    const dead = join(world.dir, "dead.kubeconfig");
    writeFileSync(dead, readFileSync(world.kubeconfig, "utf8").replace(/server: https:\/\/127\.0\.0\.1:\d+/g, `server: https://127.0.0.1:${await closedPort()}`));
    const before = rows.length;
    expect((await run(dead)).code).not.toBe(0);
    const after = JSON.parse((await kubewire(["ls", "--db", db, "-o", "json"])).stdout) as unknown[];
    const failed = await Promise.all(after.slice(before).map(async (r) => JSON.parse((await kubewire(["show", String((r as { id: number }).id), "--db", db, "-o", "json"])).stdout)));
    expect(failed.length).toBeGreaterThan(0);
    for (const ex of failed) expect(ex.error).toMatchObject({ code: "ECONNREFUSED", phase: "connect" });
  }, 120_000);
});

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("a connection opened ahead of the first request (preconnect)", () => {
  const conn = (): ConnectionInfo => ({ dnsMs: 1, connectMs: 2, tlsMs: 30, tls: null, uses: 0, readyAheadAt: 1_000, id: 1 });
  it.each([
    ["arrived once it was ready reused it, with no handshake phases", 1_000, true, 0],
    ["arrived while it was being opened waited on its handshake, and gets its phases", 999, false, 30],
  ])("says a request that %s", (_name, startedAt, reused, tlsMs) => {
    const c = conn();
    const ex = exchange({ startedAt, timing: { dnsMs: 0, connectMs: 0, tlsMs: 0, reusedConnection: false } });
    countUse(ex, c);
    copyHandshake(ex, c);
    expect([ex.timing.reusedConnection, ex.timing.tlsMs]).toEqual([reused, tlsMs]);
  });
});
