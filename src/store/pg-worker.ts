// The one PostgreSQL worker: a thread holding one pg connection that runs what it is sent, in order. It serves
// the synchronous bridge (pg-engine.ts: the caller blocks on Atomics.wait until the reply is posted) and the
// recorder's asynchronous batch writer (pg-writer.ts) alike, and holds PostgreSQL's one batch insert.
import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import { ROW_MAPPING_SOURCE } from "./rows.js";
import { PG_EXCHANGE_COLUMNS, PG_SQL } from "./pg-schema.js";

/** Rows per multi-row INSERT (30 parameters each: below PostgreSQL's 65,535 bound parameters). */
const INSERT_CHUNK = 1000;

/**
 * The worker's program: plain JavaScript (it runs from sources in tests and from dist alike), with rows.ts's
 * own mapping functions passed as their source, as the SQLite writer does.
 */
const WORKER_SOURCE = `
${ROW_MAPPING_SOURCE}
const { workerData } = require("node:worker_threads");
const pg = require(workerData.driver);
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));
const { port, sql: SQL, columns: COLUMNS, chunk: CHUNK } = workerData;
const signal = workerData.shared ? new Int32Array(workerData.shared) : null;
// The password: the URL's, else PGPASSWORD, else ~/.pgpass (PGPASSFILE), read as libpq reads them.
const fromUrl = new URL(workerData.connectionString).password !== "";
const password = fromUrl || process.env.PGPASSWORD ? undefined
  : (params) => new Promise((resolve) => require(workerData.pgpass)(params, (pass) => resolve(pass === undefined ? null : pass)));
const client = new pg.Client({
  connectionString: workerData.connectionString, connectionTimeoutMillis: workerData.connectTimeoutMs, application_name: "kubewire",
  ...(password ? { password } : {}),
});
let broken = null;
client.on("error", (err) => { broken = err; });
let connecting = null;
let depth = 0;
const chains = new Map();
const sources = new Map();

async function values(table, columns, rows) {
  const text = [];
  const params = [];
  for (const row of rows) {
    const marks = [];
    for (const v of row) { params.push(v); marks.push("$" + params.length); }
    text.push("(" + marks.join(", ") + ")");
  }
  await client.query("INSERT INTO " + table + " (" + columns + ") VALUES " + text.join(", ") + (table === "exchange_flags" ? " ON CONFLICT DO NOTHING" : ""), params);
}

async function insertBatch(rows, meta) {
  const own = depth === 0;
  if (own) await client.query("BEGIN");
  const batchChains = new Map();
  const batchSources = new Map();
  try {
    if (meta) await client.query(SQL.meta, meta);
    const ids = new Array(rows.length);
    const fresh = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      let sourceId = UNKNOWN_SOURCE_ID;
      if (row.source) {
        const key = JSON.stringify(row.source);
        sourceId = sources.get(key) ?? batchSources.get(key);
        if (sourceId === undefined) {
          await client.query(SQL.sourceInsert, row.source);
          sourceId = (await client.query({ text: SQL.sourceSelect, values: row.source, rowMode: "array" })).rows[0][0];
          batchSources.set(key, sourceId);
        }
      }
      if (row.aggregate) {
        const found = await client.query({ text: SQL.aggFind, values: [...row.aggregate[0], sourceId], rowMode: "array" });
        if (found.rows.length > 0) {
          const id = found.rows[0][0];
          await client.query(SQL.aggMerge, [...row.aggregate[1], id]);
          ids[i] = id;
          continue;
        }
      }
      const { params, detail, fp, chain } = rowValues(row);
      let chainId = null;
      if (fp !== null) {
        chainId = chains.get(fp) ?? batchChains.get(fp);
        if (chainId === undefined) {
          await client.query(SQL.chainInsert, [fp, chain()]);
          chainId = (await client.query({ text: SQL.chainSelect, values: [fp], rowMode: "array" })).rows[0][0];
          batchChains.set(fp, chainId);
        }
      }
      params[25] = chainId;
      params[26] = sourceId;
      params.push(row.aggregate ? row.aggregate[1][0] : 1, row.aggregate ? row.aggregate[1][2] : null);
      fresh.push({ i, params, detail, flags: row.flags });
    }
    if (fresh.length > 0) {
      const seq = await client.query({ text: SQL.nextIds, values: [fresh.length], rowMode: "array" });
      fresh.forEach((r, k) => { const id = seq.rows[k][0]; ids[r.i] = id; r.params.push(id); r.id = id; });
      for (let s = 0; s < fresh.length; s += CHUNK) {
        const part = fresh.slice(s, s + CHUNK);
        await values("exchanges", COLUMNS, part.map((r) => r.params));
        await values("exchange_details", "exchange_id, detail", part.map((r) => [r.id, r.detail]));
        const flags = part.flatMap((r) => r.flags.map((kind) => [r.id, kind]));
        for (let f = 0; f < flags.length; f += CHUNK) await values("exchange_flags", "exchange_id, kind", flags.slice(f, f + CHUNK));
      }
    }
    if (own) await client.query("COMMIT");
    if (own) for (const [fp, id] of batchChains) chains.set(fp, id);
    if (own) for (const [key, id] of batchSources) sources.set(key, id);
    return ids;
  } catch (err) {
    if (own) await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

async function handle(msg) {
  if (msg.op === "close") {
    // a client that never connected, or whose server went away, may never say it ended: wait a little at most
    if (connecting && !broken) await Promise.race([client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    return null;
  }
  if (broken) throw broken;
  connecting ??= client.connect();
  await connecting;
  switch (msg.op) {
    case "connect": return null;
    case "query": {
      const r = await client.query({ text: msg.sql, values: msg.params, rowMode: msg.mode === "all" ? undefined : "array" });
      return msg.mode === "run" ? r.rowCount ?? 0 : r.rows;
    }
    case "begin": await client.query(depth === 0 ? "BEGIN" : "SAVEPOINT s" + depth); depth++; return null;
    case "commit": depth--; await client.query(depth === 0 ? "COMMIT" : "RELEASE SAVEPOINT s" + depth); return null;
    case "rollback":
      depth--;
      if (depth === 0) { chains.clear(); sources.clear(); await client.query("ROLLBACK"); }
      else await client.query("ROLLBACK TO SAVEPOINT s" + depth + "; RELEASE SAVEPOINT s" + depth);
      return null;
    case "insert": return insertBatch(msg.rows, msg.meta);
    default: throw new Error("unknown operation " + msg.op);
  }
}

process.on("exit", () => { if (signal) { Atomics.store(signal, 0, 2); Atomics.notify(signal, 0); } });
let queue = Promise.resolve();
port.on("message", (msg) => {
  queue = queue.then(async () => {
    let reply;
    try {
      reply = { seq: msg.seq, result: await handle(msg) };
    } catch (err) {
      reply = { seq: msg.seq, error: String(err && err.message || err), code: String(err && err.code || "") };
    }
    port.postMessage(reply);
    if (signal) { Atomics.store(signal, 0, 1); Atomics.notify(signal, 0); }
    if (msg.op === "close") port.close();
  });
});
`;

export type PgReply = { seq: number; result: unknown } | { seq: number; error: string; code: string };

export interface PgWorkerHandle {
  worker: Worker;
  port: MessagePort;
  /** set while the synchronous bridge waits; null for the asynchronous writer */
  signal: Int32Array | null;
}

/** Starts a worker connected (at its first message) to connectionString; sync: the caller will block on each reply. */
export function startPgWorker(connectionString: string, sync: boolean, connectTimeoutMs = 10_000): PgWorkerHandle {
  const { port1, port2 } = new MessageChannel();
  const shared = sync ? new SharedArrayBuffer(4) : null;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      port: port2, shared, connectionString, connectTimeoutMs,
      driver: createRequire(import.meta.url).resolve("pg"),
      pgpass: createRequire(createRequire(import.meta.url).resolve("pg")).resolve("pgpass"),
      sql: PG_SQL, columns: PG_EXCHANGE_COLUMNS, chunk: INSERT_CHUNK,
    },
    transferList: [port2],
  });
  worker.unref();
  port1.unref();
  return { worker, port: port1, signal: shared ? new Int32Array(shared) : null };
}

export class PgError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = "PgError";
  }
}

/** Posts one message and blocks the calling thread until the worker's reply is there. */
export function callSync(handle: PgWorkerHandle, msg: Record<string, unknown>): unknown {
  const signal = handle.signal!;
  Atomics.store(signal, 0, 0);
  handle.port.postMessage({ ...msg, seq: 0 });
  // The worker posts its reply, then sets the signal and wakes this thread. The reply is read from the port,
  // not taken for granted when the signal moves: this loop waits until it is there, or the worker is gone.
  let got: ReturnType<typeof receiveMessageOnPort>;
  while (!(got = receiveMessageOnPort(handle.port))) {
    if (Atomics.load(signal, 0) === 2) throw new PgError("the PostgreSQL worker exited without an answer", "");
    Atomics.wait(signal, 0, 0, 1000);
  }
  const reply = got.message as PgReply;
  if ("error" in reply) throw new PgError(reply.error, reply.code);
  return reply.result;
}
