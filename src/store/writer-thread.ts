// StoreWriter: inserts exchanges from a worker thread with its own SQLite connection, so the
// caller's event loop pays only for one JSON text per exchange (the journal's record line when there is
// one) and one postMessage per batch; the worker builds the rows from it (see record/).
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Exchange } from "../types.js";
import {
  aggregateParams, FIND_AGGREGATE_SQL, ROW_MAPPING_SOURCE, type RecordLine, INSERT_CHAIN_SQL, INSERT_DETAIL_SQL,
  INSERT_EXCHANGE_SQL, INSERT_FLAG_SQL, INSERT_SOURCE_SQL, MERGE_AGGREGATE_SQL, SELECT_CHAIN_ID_SQL, SELECT_SOURCE_ID_SQL, SET_AGGREGATE_SQL,
  sourceParams,
} from "./rows.js";

/**
 * One exchange as the worker gets it: its record line (rows.ts RecordLine, split: its detail's and chain's
 * lengths), whose parts the worker stores as they are; or its plain JSON text (split null), from which the
 * worker makes the row, detail and chain.
 */
export interface EncodedRow {
  json: string;
  split: [detail: number, chain: number] | null;
  /** flag kinds raised on it (analyze's per-exchange rules), written in the same transaction */
  flags: string[];
  /** an aggregated row: added to the minute's row when there is one (see rows.ts aggregateParams) */
  aggregate: ReturnType<typeof aggregateParams>;
  /** where it was recorded (rows.ts sourceParams), null when not known */
  source: string[] | null;
}

type Reply = { seq: number; ids: number[] } | { seq: number; error: string; code: string };

/**
 * The worker's program: plain JavaScript (it runs from sources in tests and from dist alike),
 * generic over the SQL it is handed, so the schema stays in rows.ts and migrations.ts; the row mapping
 * is rows.ts's own functions, passed as their source (they use nothing outside themselves).
 */
const WORKER_SOURCE = `
${ROW_MAPPING_SOURCE}
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
let db = null, openError = null, st = null;
try {
  db = new Database(workerData.path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
  db.pragma("synchronous = NORMAL");
  st = {
    exchange: db.prepare(workerData.sql.exchange), detail: db.prepare(workerData.sql.detail),
    chainInsert: db.prepare(workerData.sql.chainInsert), chainSelect: db.prepare(workerData.sql.chainSelect).pluck(),
    flag: db.prepare(workerData.sql.flag), meta: db.prepare(workerData.sql.meta),
    aggFind: db.prepare(workerData.sql.aggFind).pluck(), aggMerge: db.prepare(workerData.sql.aggMerge),
    aggSet: db.prepare(workerData.sql.aggSet),
    sourceInsert: db.prepare(workerData.sql.sourceInsert), sourceSelect: db.prepare(workerData.sql.sourceSelect).pluck(),
  };
} catch (err) { openError = err; }
const chains = new Map();
const sources = new Map();
const write = db && db.transaction((rows, fresh, freshSources, meta) => {
  if (meta) st.meta.run(meta[0], meta[1]);
  return rows.map((row) => {
  let sourceId = UNKNOWN_SOURCE_ID;
  const sp = row.source;
  if (sp) {
    const key = JSON.stringify(sp);
    sourceId = sources.get(key) ?? freshSources.get(key);
    if (sourceId === undefined) {
      st.sourceInsert.run(...sp);
      sourceId = st.sourceSelect.get(...sp);
      freshSources.set(key, sourceId);
    }
  }
  if (row.aggregate) {
    const existing = st.aggFind.get(...row.aggregate[0], sourceId);
    if (existing !== undefined) {
      st.aggMerge.run(...row.aggregate[1], existing);
      return existing;
    }
  }
  const { params, detail, fp, chain } = rowValues(row);
  let chainId = null;
  if (fp !== null) {
    chainId = chains.get(fp);
    if (chainId === undefined) {
      st.chainInsert.run(fp, chain());
      chainId = st.chainSelect.get(fp);
      fresh.push([fp, chainId]);
    }
  }
  params[25] = chainId;
  params[26] = sourceId;
  const id = Number(st.exchange.run(params).lastInsertRowid);
  st.detail.run(id, detail);
  for (const kind of row.flags) st.flag.run(id, kind);
  if (row.aggregate) st.aggSet.run(row.aggregate[1][0], row.aggregate[1][2], id);
  return id;
});
});
parentPort.on("message", (msg) => {
  if (msg.close) { if (db) db.close(); parentPort.postMessage({ closed: true }); return; }
  if (openError) { parentPort.postMessage({ seq: msg.seq, error: openError.message, code: openError.code || "" }); return; }
  const fresh = [];
  const freshSources = new Map();
  try {
    const ids = write.immediate(msg.rows, fresh, freshSources, msg.meta);
    for (const [fp, id] of fresh) chains.set(fp, id);
    for (const [key, id] of freshSources) sources.set(key, id);
    parentPort.postMessage({ seq: msg.seq, ids });
  } catch (err) {
    parentPort.postMessage({ seq: msg.seq, error: err.message, code: err.code || "" });
  }
});
`;

export class StoreWriterError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = "StoreWriterError";
  }
}

/** What the recorder writes its batches through, whichever engine: StoreWriter (SQLite) or PgStoreWriter. */
export interface BatchWriter {
  insertMany(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string], lineOf?: (ex: Exchange) => RecordLine | undefined): Promise<number[]>;
  close(): Promise<void>;
}

/** The rows a batch writer posts to its thread: the record line when the caller has it (the journal's), else plain JSON. */
function encodeRows(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], lineOf?: (ex: Exchange) => RecordLine | undefined): EncodedRow[] {
  return exchanges.map((ex) => {
    const line = lineOf?.(ex);
    return {
      json: line ? line.text : JSON.stringify(ex),
      split: line ? [line.detail, line.chain] : null,
      flags: flagsOf ? flagsOf(ex) : [],
      aggregate: aggregateParams(ex),
      source: sourceParams(ex),
    };
  });
}

/**
 * What both batch writers share: each batch posted to a worker thread under a sequence number, its promise
 * settled by the reply (ids set on the exchanges), every batch in flight failed when the thread dies. An
 * engine says how a batch is posted and how its thread is asked to close.
 */
export abstract class ThreadBatchWriter implements BatchWriter {
  private readonly pending = new Map<number, { exchanges: Exchange[]; resolve: (ids: number[]) => void; reject: (e: Error) => void }>();
  protected seq = 0;
  private dead: Error | null = null;
  protected closing: Promise<void> | null = null;

  protected abstract post(seq: number, rows: EncodedRow[], meta: [string, string] | null): void;
  /** asks the thread to close; resolves once it has exited */
  protected abstract closeThread(): Promise<void>;

  /** Fails every batch in flight, and every later one, when the thread errs or exits. */
  protected watch(worker: Worker): void {
    worker.on("error", (err) => this.fail(err));
    worker.on("exit", (code) => this.fail(new Error(`database writer thread exited (code ${code})`)));
  }

  /**
   * Writes the exchanges (and their flag kinds, when flagsOf is given) in one transaction on the worker;
   * resolves with their ids (also set on each exchange). meta: a [key, value] set in the same transaction.
   * lineOf: the exchange's record line when the caller already has it (the journal's), else JSON is made here.
   */
  insertMany(
    exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string], lineOf?: (ex: Exchange) => RecordLine | undefined,
  ): Promise<number[]> {
    if (this.dead) return Promise.reject(this.dead);
    if (exchanges.length === 0) return Promise.resolve([]);
    const rows = encodeRows(exchanges, flagsOf, lineOf);
    const seq = ++this.seq;
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(seq, { exchanges, resolve, reject });
      this.post(seq, rows, meta ?? null);
    });
  }

  /** Waits for writes in flight, then closes the worker's connection and the worker. */
  close(): Promise<void> {
    this.closing ??= this.dead ? Promise.resolve() : this.closeThread();
    return this.closing;
  }

  /** Settles batch seq with the worker's answer; false when no batch waits under that number. */
  protected settle(seq: number, answer: { error: string; code: string } | { ids: number[] }): boolean {
    const entry = this.pending.get(seq);
    if (!entry) return false;
    this.pending.delete(seq);
    if ("error" in answer) entry.reject(new StoreWriterError(answer.error, answer.code));
    else {
      entry.exchanges.forEach((ex, i) => (ex.id = answer.ids[i]));
      entry.resolve(answer.ids);
    }
    return true;
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }
}

export class StoreWriter extends ThreadBatchWriter {
  private readonly worker: Worker;

  /** Starts the worker on a file that Store.open has already created and migrated. */
  constructor(path: string, opts: { busyTimeoutMs: number }) {
    super();
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path,
        busyTimeoutMs: opts.busyTimeoutMs,
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        sql: {
          exchange: INSERT_EXCHANGE_SQL, detail: INSERT_DETAIL_SQL, chainInsert: INSERT_CHAIN_SQL, chainSelect: SELECT_CHAIN_ID_SQL,
          flag: INSERT_FLAG_SQL,
          meta: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          aggFind: FIND_AGGREGATE_SQL, aggMerge: MERGE_AGGREGATE_SQL, aggSet: SET_AGGREGATE_SQL,
          sourceInsert: INSERT_SOURCE_SQL, sourceSelect: SELECT_SOURCE_ID_SQL,
        },
      },
    });
    this.worker.unref();
    this.worker.on("message", (reply: Reply | { closed: true }) => {
      if ("closed" in reply) void this.worker.terminate();
      else this.settle(reply.seq, reply);
    });
    this.watch(this.worker);
  }

  protected post(seq: number, rows: EncodedRow[], meta: [string, string] | null): void {
    this.worker.postMessage({ seq, rows, meta });
  }

  protected closeThread(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.worker.once("exit", () => resolve());
      this.worker.postMessage({ close: true });
    });
  }
}
