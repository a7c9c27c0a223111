// The journal: a recorder killed with SIGKILL loses nothing it was handed, once the next start loads
// what the journal kept; a segment whose batch was committed is never loaded twice.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Journal, JOURNAL_META_PREFIX } from "../src/record/journal.js";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, stopEngines } from "./helpers/engines.js";
import { demoWorld, kubewire, record, ROOT } from "./helpers/world.js";

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-journal-"));
  dbPath = join(dir, "rec.db");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
afterAll(() => stopEngines());

/** Start offsets of what the recording holds, after a recorder opened and closed it as the next start would. */
async function afterNextStart(): Promise<number[]> {
  const r = new Recorder({ dbPath });
  r.open();
  const stats = await r.close();
  expect(stats.dropped).toBe(0);
  const store = Store.open(dbPath, { readonly: true });
  try {
    return store.list({}).map((row) => Date.parse(row.time) - FIXED_START);
  } finally {
    store.close();
  }
}

/**
 * Leaves a journal as a killed run leaves it (its files written, nothing committed) and lets the next
 * start treat its run as dead: the segment is renamed to a run id whose process has exited.
 */
async function killedJournal(journal: Journal): Promise<void> {
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  const segment = journal.seal()!;
  await journal.close();
  renameSync(segment.path, segment.path.replace(journal.run, `${dead}-1700000000000-1`));
}

/** Exchanges with every part a record line carries: source, h2 legs, an error without a response, a watch's Status, an aggregated row. */
const rich = [
  exchange({ source: { host: "vm", run: "r1" }, protocol: { client: "h2", upstream: "h2" }, connection: { client: { id: 1, stream: 3 }, upstream: { id: 2, stream: 5 } } }),
  exchange({ startedAt: FIXED_START + 1, response: null, error: { code: "ECONNREFUSED", message: "connect ECONNREFUSED", phase: "connect" }, tls: null }),
  exchange({ startedAt: FIXED_START + 2, stream: { kind: "watch", events: 3, lastError: { code: 410, reason: "Expired", message: "too old" }, bytesIn: 0, bytesOut: 90, durationMs: 5, endedBy: "server" } }),
  exchange({ startedAt: FIXED_START + 3, client: { address: "10.0.0.9" }, repeat: { count: 4, lastSeenAt: FIXED_START + 9 } }),
];

/** The exchanges as a batch committed on the main thread gives them back (without ids). */
function committedDirectly(exchanges: typeof rich, spec = join(dir, "direct.db")): Array<Omit<(typeof rich)[number], "id">> {
  const direct = Store.open(spec);
  direct.insertMany(exchanges.map((ex) => structuredClone(ex)));
  const got = [...direct.iterate({})].map(({ id, ...ex }) => ex);
  direct.close();
  return got;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A kubewire-like process (the built recorder): records `first` exchanges and waits for their batch
 * to commit, records `then` more, says so and freezes, and is killed with SIGKILL.
 */
async function killedRecorder(first: number, then: number, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const proto = join(dir, "exchange.json");
  writeFileSync(proto, JSON.stringify(exchange()));
  const program = `
    import { readFileSync } from "node:fs";
    import { Recorder } from ${JSON.stringify(join(ROOT, "dist/record/recorder.js"))};
    const proto = JSON.parse(readFileSync(${JSON.stringify(proto)}, "utf8"));
    const r = new Recorder({ dbPath: ${JSON.stringify(dbPath)}, batchMs: 100 });
    r.open();
    let n = 0;
    const some = (k) => { for (let i = 0; i < k; i++) r.record({ ...structuredClone(proto), startedAt: proto.startedAt + n++ }); };
    some(${first});
    await r.flush();
    some(${then});
    process.stdout.write("recorded\\n"); // synchronous on a pipe
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); // frozen as at the kill: no timer fires
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", program], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((done, fail) => {
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("recorded")) child.kill("SIGKILL");
    });
    child.once("exit", (_code, signal) => (signal === "SIGKILL" ? done() : fail(new Error(`recorder exited by itself (${signal})`))));
  });
}

describe("the journal", () => {
  it("keeps every exchange a SIGKILLed recorder was handed, and loads each exactly once at the next start", async () => {
    await killedRecorder(50, 30);
    expect(await afterNextStart()).toEqual(range(80));
    expect(readdirSync(dir).filter((n) => n.includes(".journal-") || n.includes(".spill"))).toEqual([]);
  });

  it("loads back from its lines everything a committed exchange keeps: detail, chain, source, error, stream, aggregate", async () => {
    const want = committedDirectly(rich);
    // what the journal keeps, loaded at the next start
    const journal = new Journal(dbPath);
    for (const ex of rich) journal.append(structuredClone(ex));
    await killedJournal(journal);
    await afterNextStart();
    const store = Store.open(dbPath, { readonly: true });
    const got = [...store.iterate({})].map(({ id, ...ex }) => ex);
    store.close();
    expect(got).toEqual(want);
  });

  it.each(ENGINES)("lets the %s batch writer store each exchange from its line as it is, as a direct insert would", async (engine) => {
    const want = committedDirectly(rich, await freshSpec(engine, dir));
    const spec = await freshSpec(engine, dir);
    const r = new Recorder({ dbPath: spec, filesBase: join(dir, `files-${engine}`) });
    r.open();
    for (const ex of rich) r.record(structuredClone(ex));
    await r.flush(); // through the writer thread
    expect((await r.close()).written).toBe(7); // the aggregated row counts the 4 requests it stands for
    const store = Store.open(spec, { readonly: true });
    const got = [...store.iterate({})].map(({ id, ...ex }) => ex);
    store.close();
    expect(got).toEqual(want);
  });

  it("is what makes the difference: without it the same kill loses the batch still in memory", async () => {
    await killedRecorder(50, 30, { KUBEWIRE_JOURNAL: "off" });
    expect(await afterNextStart()).toEqual(range(50));
  });

  it("drops a segment whose batch was committed before the crash and loads the rest of the dead run's journal", async () => {
    const dead = spawnSync(process.execPath, ["-e", ""]).pid; // a process id that has exited
    const run = `${dead}-1700000000000-1`;
    const line = (i: number) => JSON.stringify({ ...exchange(), startedAt: FIXED_START + i }) + "\n";
    const seed = Store.open(dbPath);
    seed.insertMany([0, 1].map((i) => ({ ...exchange(), startedAt: FIXED_START + i }))); // segment 1's batch, committed
    seed.setMeta(JOURNAL_META_PREFIX + run, "1");
    seed.close();
    writeFileSync(`${dbPath}.journal-${run}.000000001`, line(0) + line(1)); // left behind: killed before its unlink
    writeFileSync(`${dbPath}.journal-${run}.000000002`, line(2) + line(3)); // the batch in flight, not committed
    writeFileSync(`${dbPath}.journal-${run}.000000003`, line(4)); // not yet in any batch
    writeFileSync(`${dbPath}.journal-${run}.000000004`, ""); // opened ahead, never written
    expect(await afterNextStart()).toEqual(range(5));
    const store = Store.open(dbPath, { readonly: true });
    expect(store.meta(JOURNAL_META_PREFIX + run)).toBeNull();
    store.close();
    expect(readdirSync(dir).filter((n) => n.includes(".journal-"))).toEqual([]);
  });

  it("leaves alone the journal of a run whose process is still alive", async () => {
    const live = `${process.ppid}-1700000000000-1`;
    writeFileSync(`${dbPath}.journal-${live}.000000001`, JSON.stringify(exchange()) + "\n");
    expect(await afterNextStart()).toEqual([]);
    expect(readdirSync(dir)).toContain(`rec.db.journal-${live}.000000001`);
  });
});

describe("kubewire status", () => {
  it("says that a running proxy journals every exchange, so a kill -9 loses none that reached the recorder", async () => {
    const world = await demoWorld();
    try {
      const session = await record(world);
      try {
        const status = await kubewire(["status", "--state-dir", session.stateDir]);
        expect(status.code).toBe(0);
        expect(status.stdout).toContain("Every exchange is journaled beside its database before it is batched: a kill -9 loses none that reached the recorder.");
        const json = JSON.parse((await kubewire(["status", "--state-dir", session.stateDir, "-o", "json"])).stdout);
        expect(json[0].stats.journal).toBe(true);
      } finally {
        await session.stop();
      }
    } finally {
      await world.close();
    }
  });
});
