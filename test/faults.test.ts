// Faults kubewire survives without losing a record: the upstream going away and coming
// back, an upstream that hangs, a locked or deleted database, SIGKILL under load.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { parse, stringify } from "yaml";
import { Store } from "../src/store/store.js";
import { Recorder } from "../src/record/recorder.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, record, ROOT, type World } from "./helpers/world.js";

interface Answer {
  status: number;
  body: string;
}

/** One GET through the proxy, as a client holding the generated kubeconfig would send it. */
function get(kubeconfig: string, path: string): Promise<Answer> {
  const cfg = parse(readFileSync(kubeconfig, "utf8"));
  const server = cfg.clusters[0].cluster.server;
  const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
  return new Promise((resolve, reject) => {
    https
      .get(`${server}${path}`, { ca, headers: { authorization: `Bearer ${cfg.users[0].user.token}` }, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      })
      .on("error", reject);
  });
}

async function rowsOf(session: RecordingSession) {
  await session.recorder.flush();
  const store = Store.open(session.dbPath, { readonly: true });
  try {
    return store.list({});
  } finally {
    store.close();
  }
}

/** A TCP relay in front of the cluster that can be taken down and brought back on the same port. */
async function relay(target: URL) {
  let server: net.Server | null = null;
  const sockets = new Set<net.Socket>();
  let port = 0;
  const up = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        client.on("error", () => upstream.destroy());
        upstream.on("error", () => client.destroy());
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      server!.close(() => resolve());
    });
  await up();
  return { port: () => port, up, down };
}

describe("faults", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => world?.close());

  it("keeps running while the API server goes away, records each failure, and forwards again when it is back", async () => {
    const r = await relay(new URL(world.cluster.url));
    const cfg = parse(readFileSync(world.kubeconfig, "utf8"));
    const adminCluster = cfg.contexts.find((c: { name: string }) => c.name === "demo-admin").context.cluster;
    cfg.clusters.find((c: { name: string }) => c.name === adminCluster).cluster.server = `https://127.0.0.1:${r.port()}`;
    const file = join(world.dir, "relay.kubeconfig");
    writeFileSync(file, stringify(cfg));
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { db: join(world.dir, "relay.db") });
    try {
      expect((await get(s.kubeconfigPath, "/version")).status).toBe(200);
      await r.down();
      const down = await get(s.kubeconfigPath, "/version");
      expect(down.status).toBe(502);
      expect(JSON.parse(down.body).message).toMatch(/^kubewire: .*connection refused/); // a client that names no Accept gets a Status
      await r.up();
      expect((await get(s.kubeconfigPath, "/version")).status).toBe(200);
      const rows = await rowsOf(s);
      expect(rows.map((x) => x.status)).toEqual([200, null, 200]); // the 502 was kubewire's answer, not the API server's
      expect(rows[1].error?.code).toBe("ECONNREFUSED");
    } finally {
      await s.stop(100);
      await r.down().catch(() => undefined);
    }
  });

  it("answers a hanging upstream with a kubewire timeout that names the phase, but lets watches run", async () => {
    const s = await record(world, "demo-admin", { headersTimeoutMs: 300, db: join(world.dir, "hang.db") });
    try {
      const hung = await get(s.kubeconfigPath, "/api/v1/namespaces/hang/pods");
      expect(hung.status).toBe(502);
      expect(hung.body).toContain("the API server sent no response headers within 300 ms");
      const watch = await get(s.kubeconfigPath, "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1");
      expect(watch.status).toBe(200);
      expect(watch.body).toContain('"type":"ADDED"');
      const rows = await rowsOf(s);
      expect(rows[0].error).toEqual({ code: "ETIMEDOUT", message: expect.stringContaining("no response headers") });
      const store = Store.open(s.dbPath, { readonly: true });
      expect(store.get(rows[0].id)!.error!.phase).toBe("headers");
      store.close();
      expect(rows[1]).toMatchObject({ verb: "watch", status: 200, error: null });
    } finally {
      await s.stop(100);
    }
  });

  it("forwards untouched while another process holds the database locked, and loses nothing", async () => {
    const s = await record(world, "demo-admin", { db: join(world.dir, "locked.db") });
    const other = new Database(s.dbPath);
    try {
      other.exec("BEGIN IMMEDIATE");
      for (let i = 0; i < 20; i++) expect((await get(s.kubeconfigPath, `/api/v1/namespaces/default/pods?n=${i}`)).status).toBe(200);
      await eventually(() => (s.recorder.stats().spilled > 0 ? true : undefined), 20_000); // the batch met the lock and spilled
      other.exec("ROLLBACK");
    } finally {
      other.close();
      await s.stop(100);
    }
    // What could not be loaded back at shutdown (the database was retried with back-off) is on the next start.
    const next = new Recorder({ dbPath: s.dbPath });
    next.open();
    await next.close();
    expect(existsSync(`${s.dbPath}.spill.jsonl`)).toBe(false);
    const store = Store.open(s.dbPath, { readonly: true });
    expect(store.count({ pathContains: "/api/v1/namespaces/default/pods" })).toBe(20);
    store.close();
  });

  it("keeps recording into a new file when the database is deleted while running", async () => {
    const s = await record(world, "demo-admin", { db: join(world.dir, "deleted.db") });
    try {
      await get(s.kubeconfigPath, "/version");
      await s.recorder.flush();
      for (const f of [s.dbPath, `${s.dbPath}-wal`, `${s.dbPath}-shm`]) rmSync(f, { force: true });
      for (let i = 0; i < 5; i++) expect((await get(s.kubeconfigPath, `/api/v1/namespaces/default/pods?after=${i}`)).status).toBe(200);
    } finally {
      const stats = await s.stop(100);
      expect(stats.dropped).toBe(0);
    }
    const store = Store.open(s.dbPath, { readonly: true });
    expect(store.list({}).filter((r) => r.query.startsWith("after=")).length).toBe(5);
    store.close();
  });

  it("leaves a database that opens cleanly and holds every batch written before a SIGKILL under load", async () => {
    const db = join(world.dir, "killed.db");
    const kc = join(world.dir, "killed.kubeconfig");
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", world.kubeconfig, "--listen", "127.0.0.1:0", "--db", db, "--state-dir", join(world.dir, "state"), "--write-kubeconfig", kc], { stdio: ["ignore", "pipe", "pipe"] });
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    for (let i = 0; i < 400 && !out.includes("listening on"); i++) await new Promise((r) => setTimeout(r, 50));
    const before = 100;
    for (let i = 0; i < before; i++) await get(kc, `/api/v1/namespaces/default/pods?before=${i}`);
    // the first 100 are in the database before the kill (their batch committed)
    await eventually(() => {
      const seen = Store.open(db, { readonly: true });
      try {
        return seen.count({ pathContains: "/pods" }) >= before ? true : undefined;
      } finally {
        seen.close();
      }
    }, 20_000);
    let stop = false;
    let sent = 0;
    const load = (async () => {
      while (!stop) await get(kc, `/api/v1/namespaces/default/pods?during=${sent++}`).catch(() => (stop = true));
      return sent;
    })();
    await eventually(() => (sent >= 20 ? true : undefined), 20_000); // the kill lands mid-load
    const exit = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exit;
    stop = true;
    await load;
    const raw = new Database(db);
    expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
    raw.close();
    const store = Store.open(db, { readonly: true });
    const rows = store.list({});
    expect(rows.filter((r) => r.query.startsWith("before=")).length).toBe(before);
    expect(rows.filter((r) => r.query.startsWith("during=")).length).toBeGreaterThan(0);
    store.close();
    expect(existsSync(db)).toBe(true);
  });
});
