// The recorder's batch writer for PostgreSQL: the pg worker (pg-worker.ts) used asynchronously, so forwarding
// never waits for the database; each batch is one transaction of multi-row INSERTs, ids from the sequence.
import type { Exchange } from "../types.js";
import { connectionString, parseDbSpec } from "./db-spec.js";
import { startPgWorker, type PgReply, type PgWorkerHandle } from "./pg-worker.js";
import type { RecordLine } from "./rows.js";
import { encodeRows, StoreWriterError, type BatchWriter } from "./writer-thread.js";

export class PgStoreWriter implements BatchWriter {
  private readonly handle: PgWorkerHandle;
  private readonly pending = new Map<number, { exchanges: Exchange[]; resolve: (ids: number[]) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;

  /** Starts the worker; it connects at the first batch (a server that is down fails that batch, which then spills). */
  constructor(spec: string) {
    this.handle = startPgWorker(connectionString((parseDbSpec(spec) as { url: string }).url), false);
    this.handle.port.on("message", (reply: PgReply) => this.onReply(reply));
    this.handle.worker.on("error", (err) => this.fail(err));
    this.handle.worker.on("exit", (code) => this.fail(new Error(`database writer thread exited (code ${code})`)));
  }

  insertMany(
    exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string], lineOf?: (ex: Exchange) => RecordLine | undefined,
  ): Promise<number[]> {
    if (this.dead) return Promise.reject(this.dead);
    if (exchanges.length === 0) return Promise.resolve([]);
    const rows = encodeRows(exchanges, flagsOf, lineOf);
    const seq = ++this.seq;
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(seq, { exchanges, resolve, reject });
      this.handle.port.postMessage({ op: "insert", seq, rows, meta: meta ?? null });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.dead
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.handle.worker.once("exit", () => resolve());
          this.handle.port.postMessage({ op: "close", seq: ++this.seq });
        });
    return this.closing;
  }

  private onReply(reply: PgReply): void {
    const entry = this.pending.get(reply.seq);
    if (!entry) {
      if (this.closing) void this.handle.worker.terminate(); // the close's reply
      return;
    }
    this.pending.delete(reply.seq);
    if ("error" in reply) entry.reject(new StoreWriterError(reply.error, reply.code));
    else {
      const ids = reply.result as number[];
      entry.exchanges.forEach((ex, i) => (ex.id = ids[i]));
      entry.resolve(ids);
    }
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const entry of this.pending.values()) entry.reject(err);
    this.pending.clear();
  }
}
