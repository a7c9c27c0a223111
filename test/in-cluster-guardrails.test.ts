// The guardrails of a capture nobody watches: --max-db-size prunes the oldest exchanges, and
// --capture-for stops recording while forwarding goes on.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { startInClusterSession, type RecordingSession } from "../src/session/recording-session.js";
import { Store } from "../src/store/store.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { demoWorld, kubectl, recorded, type World } from "./helpers/world.js";

describe("--max-db-size", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kubewire-prune-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("prunes the oldest exchanges until the database's pages in use fit, keeping the newest", () => {
    const store = Store.open(join(dir, "prune.db"));
    try {
      const body = "x".repeat(4000);
      const batch = Array.from({ length: 400 }, (_, i) =>
        exchange({ startedAt: FIXED_START + i * 1000, response: { body: { data: body, encoding: "utf8", truncated: false, size: body.length } }, flags: undefined } as never),
      );
      store.insertMany(batch, () => ["slow"]);
      const full = store.usedBytes();
      expect(full).toBeGreaterThan(1_000_000);
      const removed = store.pruneToSize(Math.floor(full / 2));
      expect(removed).toBeGreaterThan(100);
      expect(store.usedBytes()).toBeLessThanOrEqual(Math.floor(full / 2));
      const left = store.list({});
      expect(left).toHaveLength(400 - removed);
      expect(left[left.length - 1].time).toBe(new Date(FIXED_START + 399_000).toISOString());
      expect(left[0].time).toBe(new Date(FIXED_START + removed * 1000).toISOString());
      expect(store.get(1)).toBeNull();
      expect(store.flagSummary({}).find((f) => f.kind === "slow")?.count).toBe(400 - removed);
    } finally {
      store.close();
    }
  });
});

describe("--capture-for in a simulated pod", () => {
  let world: World;
  let session: RecordingSession;
  const warnings: string[] = [];

  beforeAll(async () => {
    world = await demoWorld();
    const saDir = join(world.dir, "serviceaccount");
    mkdirSync(saDir);
    writeFileSync(join(saDir, "token"), world.cluster.users.serviceAccount.token!);
    writeFileSync(join(saDir, "ca.crt"), world.cluster.caPem);
    writeFileSync(join(saDir, "namespace"), "apps");
    const address = new URL(world.cluster.url);
    session = await startInClusterSession({
      inCluster: { saDir, env: { KUBERNETES_SERVICE_HOST: address.hostname, KUBERNETES_SERVICE_PORT: address.port } },
      listen: { host: "127.0.0.1", port: 0 },
      stateDir: join(world.dir, "state"),
      db: join(world.dir, "capture-for.db"),
      writeKubeconfig: join(world.dir, "kubeconfig"),
      captureForMs: 60 * 60 * 1000,
      warn: (l) => warnings.push(l),
    });
  });
  afterEach(() => vi.useRealTimers());
  afterAll(async () => {
    await session?.stop(0);
    await world?.close();
  });

  it("records until the time is up, then keeps forwarding without recording", async () => {
    const before = await kubectl(session.kubeconfigPath, ["get", "configmaps"]);
    expect(before.code).toBe(0);
    const recordedBefore = (await recorded(session)).length;
    expect(recordedBefore).toBeGreaterThan(0);
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 2 * 60 * 60 * 1000 });
    const after = await kubectl(session.kubeconfigPath, ["get", "pods", "-n", "default"]);
    expect(after.stderr).toContain('User "system:serviceaccount:apps:operator" cannot list resource "pods"');
    expect((await recorded(session)).length).toBe(recordedBefore);
    expect(warnings).toContain("kubewire: --capture-for is over: still forwarding, no longer recording");
  });

  it("with --max-db-size, a run over a full recording prunes its oldest exchanges and keeps what it records", async () => {
    const db = join(world.dir, "full.db");
    const store = Store.open(db);
    const body = "y".repeat(4000);
    store.insertMany(Array.from({ length: 300 }, (_, i) => exchange({ startedAt: FIXED_START + i, response: { body: { data: body, encoding: "utf8", truncated: false, size: body.length } } } as never)));
    const full = store.usedBytes();
    store.close();
    const address = new URL(world.cluster.url);
    const s = await startInClusterSession({
      inCluster: { saDir: join(world.dir, "serviceaccount"), env: { KUBERNETES_SERVICE_HOST: address.hostname, KUBERNETES_SERVICE_PORT: address.port } },
      listen: { host: "127.0.0.1", port: 0 },
      stateDir: join(world.dir, "state"),
      db,
      writeKubeconfig: join(world.dir, "kubeconfig-full"),
      maxDbBytes: Math.floor(full / 2),
      warn: (l) => warnings.push(l),
    });
    try {
      expect((await kubectl(s.kubeconfigPath, ["get", "configmaps"])).code).toBe(0);
    } finally {
      await s.stop(0);
    }
    const after = Store.open(db, { readonly: true });
    try {
      expect(after.usedBytes()).toBeLessThanOrEqual(Math.floor(full / 2));
      const rows = after.list({});
      expect(rows.length).toBeLessThan(300);
      expect(rows.some((r) => r.resource === "configmaps" && r.status === 200)).toBe(true);
      expect(after.get(1)).toBeNull();
    } finally {
      after.close();
    }
  });
});
