// The recorder's batch writer for PostgreSQL: the pg worker (pg-worker.ts) used asynchronously, so forwarding
// never waits for the database; each batch is one transaction of multi-row INSERTs, ids from the sequence.
import { connectionString, parseDbSpec } from "./db-spec.js";
import { startPgWorker, type PgReply, type PgWorkerHandle } from "./pg-worker.js";
import { ThreadBatchWriter, type EncodedRow } from "./writer-thread.js";

export class PgStoreWriter extends ThreadBatchWriter {
  private readonly handle: PgWorkerHandle;

  /** Starts the worker; it connects at the first batch (a server that is down fails that batch, which then spills). */
  constructor(spec: string) {
    super();
    this.handle = startPgWorker(connectionString((parseDbSpec(spec) as { url: string }).url), false);
    this.handle.port.on("message", (reply: PgReply) => {
      const answer = "error" in reply ? reply : { ids: reply.result as number[] };
      if (!this.settle(reply.seq, answer) && this.closing) void this.handle.worker.terminate(); // the close's reply
    });
    this.watch(this.handle.worker);
  }

  protected post(seq: number, rows: EncodedRow[], meta: [string, string] | null): void {
    this.handle.port.postMessage({ op: "insert", seq, rows, meta });
  }

  protected closeThread(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.handle.worker.once("exit", () => resolve());
      this.handle.port.postMessage({ op: "close", seq: ++this.seq });
    });
  }
}
