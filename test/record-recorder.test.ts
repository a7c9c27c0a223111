// The recorder: batches off the hot path, loses nothing across locks, deleted files and
// overflowing queues, and never throws at the proxy.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";

let dir: string;
let dbPath: string;
const open: Recorder[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-rec-"));
  dbPath = join(dir, "rec.db");
});
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
  rmSync(dir, { recursive: true, force: true });
});

function recorder(opts: Partial<ConstructorParameters<typeof Recorder>[0]> = {}): Recorder {
  const r = new Recorder({ dbPath, ...opts });
  open.push(r);
  r.open();
  return r;
}

/** n distinct exchanges, told apart by their start time */
function many(n: number, from = 0): Exchange[] {
  const proto = exchange();
  return Array.from({ length: n }, (_, i) => ({ ...structuredClone(proto), id: undefined, startedAt: FIXED_START + from + i }));
}

function recorded(): number[] {
  const store = Store.open(dbPath, { readonly: true });
  try {
    return store.list({}).map((r) => Date.parse(r.time) - FIXED_START);
  } finally {
    store.close();
  }
}

/** The spill file and the files handed over to be loaded like it (journal segments). */
function spillFiles(): string[] {
  return readdirSync(dir).filter((n) => n.startsWith("rec.db.spill.jsonl")).map((n) => join(dir, n));
}
const spilledLines = () => spillFiles().reduce((n, f) => n + readFileSync(f, "utf8").split("\n").filter(Boolean).length, 0);

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** A second connection holding the write lock, as another process would. */
function lockDatabase(): Database.Database {
  const other = new Database(dbPath);
  other.exec("BEGIN IMMEDIATE");
  return other;
}

describe("Recorder", () => {
  it("gathers batches four times as long under steady traffic, while the journal keeps what waits, and goes back when it calms", async () => {
    const r = recorder({ batchMs: 20 });
    const plain = new Recorder({ dbPath: join(dir, "plain.db"), batchMs: 20, journal: false });
    plain.open();
    expect([r.batchWindowMs(), plain.batchWindowMs()]).toEqual([20, 20]);
    for (const rec of [r, plain]) {
      for (const x of many(16)) rec.record(x); // a batch of 16: steady traffic
      await rec.flush();
    }
    expect([r.batchWindowMs(), plain.batchWindowMs()]).toEqual([80, 20]); // without a journal a kill would lose the window
    for (const x of many(15)) r.record(x);
    await r.flush();
    expect(r.batchWindowMs()).toBe(20);
    expect((await r.close()).written).toBe(31);
    expect((await plain.close()).written).toBe(16);
  });

  it("writes nothing synchronously, then the whole burst in one batch with ids", async () => {
    const r = recorder({ batchMs: 20 });
    const batches: Exchange[][] = [];
    const firstBatch = new Promise<void>((written) => {
      r.onWritten = (xs) => {
        batches.push(xs);
        written();
      };
    });
    const xs = many(5);
    for (const x of xs) r.record(x);
    expect(r.stats()).toMatchObject({ queued: 5, written: 0 });
    expect(recorded()).toEqual([]);
    await firstBatch;
    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((x) => x.id)).toEqual([1, 2, 3, 4, 5]);
    expect(recorded()).toEqual(range(0, 5));
    await r.flush(); // the batch's promise settles just after onWritten
    expect(r.stats()).toMatchObject({ queued: 0, written: 5, spilled: 0, dropped: 0 });
  });

  it("writes what is queued when closed, without waiting for the timer", async () => {
    const r = recorder({ batchMs: 100 });
    for (const x of many(3)) r.record(x);
    const stats = await r.close();
    expect(stats).toEqual({ queued: 0, written: 3, spilled: 0, dropped: 0, reloaded: 0, lastError: null, journal: true });
    expect(recorded()).toEqual(range(0, 3));
  });

  it("loses none of 10,000 records arriving in bursts", async () => {
    const r = recorder();
    const xs = many(10_000);
    for (let i = 0; i < xs.length; i += 500) {
      for (const x of xs.slice(i, i + 500)) r.record(x);
      await new Promise((done) => setImmediate(done));
    }
    const stats = await r.close();
    expect(stats.written + stats.reloaded).toBe(10_000);
    expect(stats.dropped).toBe(0);
    expect(recorded()).toEqual(range(0, 10_000));
    expect(new Set(xs.map((x) => x.id)).size).toBe(10_000);
  });

  it("spills the queue when it exceeds maxQueue (its journal segment, by a rename), then loads it back once a batch is written", async () => {
    const r = recorder({ maxQueue: 100 });
    for (const x of many(250)) r.record(x);
    await r.flush();
    expect(r.stats()).toMatchObject({ written: 0, spilled: 250, dropped: 0 });
    expect(spilledLines()).toBe(250);
    r.record(many(1, 250)[0]!);
    await r.flush();
    expect(r.stats()).toMatchObject({ written: 1, spilled: 250, reloaded: 250, dropped: 0 });
    expect(spilledLines()).toBe(0);
    expect(recorded()).toEqual(range(0, 251));
  });

  it("without a journal, spills only what exceeds maxQueue, then loads it back once the batch is written", async () => {
    const r = recorder({ maxQueue: 100, journal: false });
    for (const x of many(250)) r.record(x);
    await r.flush();
    expect(r.stats()).toMatchObject({ written: 100, spilled: 150, reloaded: 150, dropped: 0 });
    expect(existsSync(`${dbPath}.spill.jsonl`)).toBe(false);
    expect(recorded()).toEqual(range(0, 250));
  });

  it("spills while another connection holds the write lock, and reloads on the next open", async () => {
    const errors: string[] = [];
    const r = recorder({ onError: (m) => errors.push(m) });
    const lock = lockDatabase();
    try {
      for (const x of many(20)) r.record(x);
      await r.flush();
      for (const x of many(5, 20)) r.record(x);
      const stats = await r.close();
      expect(stats).toMatchObject({ written: 0, spilled: 25, dropped: 0, reloaded: 0 });
      expect(stats.lastError).toMatch(/database is locked/);
      expect(spilledLines()).toBe(25);
      for (const f of spillFiles()) expect(statSync(f).mode & 0o777).toBe(0o600);
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    expect(errors).toEqual([]);
    const next = recorder();
    expect(next.stats()).toMatchObject({ reloaded: 25, spilled: 0 });
    expect(spillFiles()).toEqual([]);
    expect(recorded()).toEqual(range(0, 25));
  });

  it("fills one spill file, not one per batch, while the database stays locked", async () => {
    const r = recorder({ batchMs: 1 });
    const lock = lockDatabase();
    try {
      for (let round = 0; round < 6; round++) {
        for (const x of many(3, round * 3)) r.record(x);
        await r.flush();
      }
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    expect(r.stats()).toMatchObject({ spilled: 18, dropped: 0 });
    expect(spillFiles()).toEqual([`${dbPath}.spill.jsonl`]);
    expect(spilledLines()).toBe(18);
    // the lock is gone: the spill is loaded back either by this recorder (a batch after the release) or by the next open
    const closed = await r.close();
    expect(closed.reloaded + recorder().stats().reloaded).toBe(18);
    expect(recorded()).toEqual(range(0, 18));
  });

  it("goes back to the database once the lock is released, loading the spill back while running", async () => {
    const r = recorder({ batchMs: 10 });
    const lock = lockDatabase();
    for (const x of many(10)) r.record(x);
    await r.flush();
    expect(r.stats()).toMatchObject({ spilled: 10, written: 0 });
    lock.exec("ROLLBACK");
    lock.close();
    for (const x of many(10, 10)) r.record(x);
    await r.flush();
    expect(r.stats()).toMatchObject({ spilled: 10, written: 10, reloaded: 10, dropped: 0 });
    expect(recorded()).toEqual(range(0, 20));
  });

  it("drops and reports only what neither the database nor the spill file can take", async () => {
    const errors: string[] = [];
    const r = recorder({ spillPath: join(dir, "missing-folder", "spill.jsonl"), onError: (m) => errors.push(m) });
    const lock = lockDatabase();
    try {
      for (const x of many(4)) r.record(x);
      await r.flush();
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    expect(r.stats()).toMatchObject({ spilled: 0, dropped: 4 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^dropped 4 exchange\(s\): cannot write .*database is locked, and cannot write .*spill\.jsonl: ENOENT/);
  });

  it.each([
    ["only the database file is", [""]],
    ["the database and its WAL files are", ["", "-wal", "-shm"]],
  ])("records into a fresh file when %s deleted while running", async (_, suffixes) => {
    const r = recorder();
    for (const x of many(5)) r.record(x);
    await r.flush();
    for (const s of suffixes) rmSync(dbPath + s, { force: true });
    for (const x of many(5, 5)) r.record(x);
    await r.flush();
    for (const x of many(5, 10)) r.record(x);
    const stats = await r.close();
    expect(stats).toMatchObject({ written: 15, spilled: 0, dropped: 0 });
    expect(stats.lastError).toMatch(/was deleted or replaced while recording; recording into a new file/);
    expect(recorded()).toEqual(range(5, 10));
  });

  it("never throws from record(), whatever it is handed and whenever", async () => {
    const errors: string[] = [];
    const r = new Recorder({ dbPath, onError: (m) => errors.push(m) });
    open.push(r);
    const circular = exchange();
    circular.request.headers.self = circular.request.headers as never; // cannot be serialized
    expect(() => r.record(many(1)[0]!)).not.toThrow(); // before open
    r.open();
    for (const bad of [null, undefined, 42, "GET /", {}, circular]) expect(() => r.record(bad as never)).not.toThrow();
    expect(() => r.record(many(1, 1)[0]!)).not.toThrow();
    const stats = await r.close();
    expect(() => r.record(many(1, 2)[0]!)).not.toThrow(); // after close
    expect(r.stats().dropped).toBe(7);
    expect(stats.written + stats.reloaded).toBe(2);
    expect(recorded()).toEqual([0, 1]);
    expect(errors.at(-1)).toBe("recorder is closed: dropping exchanges recorded after close()");
  });
});

describe("Recorder with deferMs (a short exec run)", () => {
  /** resolves with the first batch the recorder writes */
  const firstBatch = (r: Recorder) => new Promise<Exchange[]>((written) => (r.onWritten = written));
  const files = () => readdirSync(dir).filter((n) => n.includes(".journal-") || n.includes(".spill"));

  it("holds the batches back: when a recorder without it has written its batch, this one has written nothing", async () => {
    const deferred = recorder({ batchMs: 10, deferMs: 60_000 });
    const plain = new Recorder({ dbPath: join(dir, "plain.db"), batchMs: 10 });
    open.push(plain);
    plain.open();
    const plainWritten = firstBatch(plain);
    for (const x of many(3)) deferred.record(x);
    for (const x of many(3)) plain.record(x);
    await plainWritten;
    expect(deferred.stats()).toMatchObject({ queued: 3, written: 0 });
    expect(recorded()).toEqual([]);
  });

  it("writes everything at close, ids and flags included, and leaves no journal or spill file", async () => {
    const r = recorder({ batchMs: 10, deferMs: 60_000, flagsOf: (ex) => (ex.startedAt === FIXED_START + 1 ? ["slow"] : []) });
    const batches: Exchange[][] = [];
    r.onWritten = (xs) => batches.push(xs);
    const xs = many(5);
    for (const x of xs) r.record(x);
    const stats = await r.close();
    expect(stats).toEqual({ queued: 0, written: 5, spilled: 0, dropped: 0, reloaded: 0, lastError: null, journal: true });
    expect(recorded()).toEqual(range(0, 5));
    expect(xs.map((x) => x.id)).toEqual([1, 2, 3, 4, 5]);
    expect(batches.map((b) => b.length)).toEqual([5]);
    const store = Store.open(dbPath, { readonly: true });
    expect(store.list({}).map((row) => row.flags)).toEqual([[], ["slow"], [], [], []]);
    store.close();
    expect(files()).toEqual([]);
  });

  it("spills at close, as a batch would, while another connection holds the write lock", async () => {
    const r = recorder({ batchMs: 10, deferMs: 60_000 });
    for (const x of many(4)) r.record(x);
    const lock = lockDatabase();
    let stats;
    try {
      stats = await r.close();
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    expect(stats).toMatchObject({ written: 0, spilled: 4, dropped: 0 });
    expect(spilledLines()).toBe(4);
    const next = recorder();
    await next.close();
    expect(recorded()).toEqual(range(0, 4));
  });

  it("writes in batches once deferMs is over", async () => {
    const r = recorder({ batchMs: 10, deferMs: 30 });
    const written = firstBatch(r);
    for (const x of many(2)) r.record(x);
    expect((await written).length).toBe(2);
    expect(recorded()).toEqual(range(0, 2));
  });

  it("writes in batches at once when 500 exchanges wait, so close() never has a long write to do", async () => {
    const r = recorder({ batchMs: 10, deferMs: 60_000 });
    const written = firstBatch(r);
    for (const x of many(500)) r.record(x);
    expect((await written).length).toBe(500);
    expect(r.stats().written).toBe(500);
  });
});

describe("Recorder with flagsOf", () => {
  const slowOnly = (ex: Exchange) => (ex.startedAt === FIXED_START + 1 ? ["slow"] : []);
  const flagsInDb = () => {
    const store = Store.open(dbPath, { readonly: true });
    try {
      return store.list({}).map((row) => row.flags);
    } finally {
      store.close();
    }
  };

  it("flags what an earlier run spilled when it loads it back at the next open", async () => {
    const first = recorder({ batchMs: 10 });
    for (const x of many(3)) first.record(x);
    const lock = lockDatabase();
    try {
      expect(await first.close()).toMatchObject({ spilled: 3 });
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    const next = recorder({ flagsOf: slowOnly });
    expect(await next.close()).toMatchObject({ reloaded: 3, dropped: 0 });
    expect(flagsInDb()).toEqual([[], ["slow"], []]);
  });
});

describe("Recorder warnings", () => {
  it("says each drop on a full disk in one line of its own, never nesting the earlier warnings", async () => {
    const errors: string[] = [];
    const r = recorder({ batchMs: 1, spillPath: join(dir, "missing-folder", "spill.jsonl"), onError: (m) => errors.push(m) });
    const lock = lockDatabase();
    try {
      for (let round = 0; round < 4; round++) {
        for (const x of many(2, round * 2)) r.record(x);
        await r.flush();
      }
    } finally {
      lock.exec("ROLLBACK");
      lock.close();
    }
    expect(r.stats()).toMatchObject({ dropped: 8 });
    expect(errors).toHaveLength(4);
    for (const line of errors) {
      expect(line).toMatch(/^dropped 2 exchange\(s\): cannot write .*rec\.db: database is locked, and cannot write .*spill\.jsonl: ENOENT[^\n]*$/);
      expect(line.match(/dropped/g)).toHaveLength(1);
    }
  });
});
