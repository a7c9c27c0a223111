// The recorder: a bounded in-memory queue the proxy fills synchronously (and journals, so a SIGKILL
// loses nothing answered), written in batched transactions by a worker thread (started with the first
// batch); what the database cannot take spills to a file beside it.
import { createHash } from "node:crypto";
import { existsSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RecordLine } from "../store/rows.js";
import { isPostgresSpec, openStoreWriter, Store, type BatchWriter } from "../store/store.js";
import { stateDirPath } from "../tls/state-dir.js";
import type { Exchange } from "../types.js";
import { addToAggregate, aggregateKey, isAggregated, startAggregate } from "./aggregate.js";
import { Journal, type Segment } from "./journal.js";
import { rmQuiet } from "../remove-file.js";
import { looksLikeExchange } from "./shape.js";
import { appendSpill, reloadSpill, spillSize } from "./spill.js";

export interface RecorderStats {
  /** waiting in memory now (queued or being written) */
  queued: number;
  /** written to the database by this recorder's batches */
  written: number;
  /** appended to the spill file (loaded back later) */
  spilled: number;
  /** lost: neither the database nor the spill file could take them */
  dropped: number;
  /** loaded from a spill file into the database */
  reloaded: number;
  lastError: string | null;
  /**
   * true while every exchange is journaled before it waits for its batch (a SIGKILL then loses none the
   * recorder was given); false when the journal is off or failed (a SIGKILL may lose the batch window)
   */
  journal?: boolean;
}

export type FlagsOf = (ex: Exchange) => string[];

export interface RecorderOptions {
  /** a SQLite file, or a postgres:// URL as parseDbSpec returns it (password masked) */
  dbPath: string;
  /**
   * where the local files live (spill file, journal): beside a SQLite file by default; for PostgreSQL,
   * STATE_DIR/postgres-<hash of the URL> unless given
   */
  filesBase?: string;
  /**
   * longest wait before a batch is written (default 50, at most 100); under steady traffic, with the
   * journal on, 4 times that (see batchWindowMs)
   */
  batchMs?: number;
  /** records held in memory before the excess goes to the spill file (default 10000) */
  maxQueue?: number;
  /** default filesBase + ".spill.jsonl" */
  spillPath?: string;
  /** called when records are dropped */
  onError?: (message: string) => void;
  /**
   * The flag kinds of one exchange (analyze's flagsOf), stored with it in the same transaction. Called
   * when a batch is written, never on the forwarding path; it must be pure and cheap.
   */
  flagsOf?: FlagsOf;
  /**
   * Append each exchange to a journal file beside the database before it waits for its batch, so a
   * SIGKILL loses nothing answered (default true; KUBEWIRE_JOURNAL=off turns it off, for benchmarks).
   */
  journal?: boolean;
  /**
   * Hold batches back for this long after open(), journaled, while fewer than DEFER_MAX_QUEUE wait (exec:
   * a short command's exchanges are then written by close(), on the main thread once nothing forwards, and
   * the writer thread, a second V8 environment, never starts). Default 0: batches go out every batchMs.
   */
  deferMs?: number;
  /**
   * Run SQLite's quick_check when the file is opened (default true). It reads the whole file, so `exec`, which
   * starts before every wrapped command, turns it off: a damaged file then shows when a batch fails to write.
   */
  check?: boolean;
}

/** How long the writer thread waits for another process's lock before the batch spills. */
const WRITER_BUSY_TIMEOUT_MS = 50;
/** After repeated failures the database is retried at most this often (spilling in between). */
const MAX_RETRY_DELAY_MS = 1000;
/** A spill file up to this size is loaded back as soon as the database works again. */
const LIVE_RELOAD_MAX_BYTES = 1 << 20;
/** deferMs ends early once this many exchanges wait: close() then has no more than this to write on the main thread. */
const DEFER_MAX_QUEUE = 500;
/** A batch of at least this many exchanges means steady traffic: the next batch gathers BUSY_WINDOW_FACTOR × batchMs. */
const BUSY_BATCH = 16;
const BUSY_WINDOW_FACTOR = 4;

export class Recorder {
  onWritten?: (exchanges: Exchange[]) => void;

  private readonly dbPath: string;
  private readonly filesBase: string;
  private readonly postgres: boolean;
  private readonly batchMs: number;
  private readonly maxQueue: number;
  private readonly spillPath: string;
  private readonly onError?: (message: string) => void;
  private readonly flagsOf?: FlagsOf;
  private readonly useJournal: boolean;
  private readonly deferMs: number;
  private readonly check: boolean;
  /** epoch ms before which no batch is written while the recorder is open (see deferMs) */
  private deferUntil = 0;
  /** null before open, when turned off, or after a journal write failed */
  private journal: Journal | null = null;
  /** the journal was opened and has not failed (stays true once closed cleanly) */
  private journaling = false;

  private queue: Exchange[] = [];
  /** the aggregated rows (requests without the proxy token) in the queue, by aggregateKey */
  private aggregates = new Map<string, Exchange>();
  /** each journaled exchange's record line, which the writer stores (aggregated rows change, so are not kept) */
  private lines = new WeakMap<Exchange, RecordLine>();
  private inFlight: { size: number; done: Promise<void> } | null = null;
  /** exchanges in the last batch taken (see batchWindowMs) */
  private lastBatchSize = 0;
  private timer: NodeJS.Timeout | null = null;
  /** main-thread connection: creation, migrations, spill reload */
  private store: Store | null = null;
  private writer: BatchWriter | null = null;
  private storeClosing: Promise<void> = Promise.resolve();
  private closing: Promise<RecorderStats> | null = null;
  private storeFile: { dev: number; ino: number } | null = null;
  private state: "new" | "open" | "closing" | "closed" = "new";
  private failures = 0;
  private retryAt = 0;
  private spilledSinceReload = false;
  private warnedClosed = false;
  private warnedDamaged = false;
  private counts = { written: 0, spilled: 0, dropped: 0, reloaded: 0 };
  private lastError: string | null = null;
  /** why the database failed last (one line): the reason a spill or drop names, never a report of an earlier drop */
  private dbError: string | null = null;

  constructor(opts: RecorderOptions) {
    this.dbPath = opts.dbPath;
    this.postgres = isPostgresSpec(opts.dbPath);
    this.filesBase = opts.filesBase ?? (this.postgres ? localFilesBase(stateDirPath(), opts.dbPath) : opts.dbPath);
    this.batchMs = Math.min(Math.max(opts.batchMs ?? 50, 0), 100);
    this.maxQueue = Math.max(opts.maxQueue ?? 10000, 1);
    this.spillPath = opts.spillPath ?? `${this.filesBase}.spill.jsonl`;
    this.onError = opts.onError;
    this.flagsOf = opts.flagsOf;
    this.useJournal = opts.journal ?? process.env.KUBEWIRE_JOURNAL !== "off";
    this.deferMs = Math.max(opts.deferMs ?? 0, 0);
    this.check = opts.check ?? true;
  }

  /** Opens the store (creating it) and loads back what an earlier run spilled. Throws UserError for a file that is not a recording. */
  open(): void {
    if (this.state !== "new") return;
    this.openStore(this.check);
    this.state = "open";
    if (this.deferMs > 0) this.deferUntil = Date.now() + this.deferMs;
    this.openJournal();
    this.reload();
    if (this.queue.length > 0) this.schedule();
  }

  /** Queues one finished exchange. Synchronous, O(1), never throws; its only I/O is one journal write(2). */
  record(exchange: Exchange): void {
    try {
      if (this.state === "closed") {
        this.counts.dropped++;
        if (!this.warnedClosed) this.report("recorder is closed: dropping exchanges recorded after close()");
        this.warnedClosed = true;
        return;
      }
      if (isAggregated(exchange) && looksLikeExchange(exchange)) {
        const key = aggregateKey(exchange);
        const row = this.aggregates.get(key);
        const started = startAggregate(exchange);
        if (this.journal && this.journaled(started) === null) return;
        if (row) {
          addToAggregate(row, exchange);
          return;
        }
        exchange = started;
        this.aggregates.set(key, exchange);
      } else if (this.journal && looksLikeExchange(exchange)) {
        const line = this.journaled(exchange);
        if (line === null) return;
        if (line !== undefined) this.lines.set(exchange, line);
      }
      this.queue.push(exchange);
      if (this.state !== "open") return;
      if (this.queue.length >= this.maxQueue) this.schedule(true);
      else if (this.deferUntil !== 0 && this.queue.length >= DEFER_MAX_QUEUE) {
        this.deferUntil = 0; // too many for close() to write on the main thread: batches from now on
        this.schedule(true);
      } else if (this.timer === null) this.schedule();
    } catch {
      // record() must never break forwarding; a failure here can only be a broken timer.
    }
  }

  /** Writes everything queued now (to the database, or to the spill file). */
  async flush(): Promise<void> {
    if (this.state === "new") return;
    while (this.inFlight || this.queue.length > 0) {
      if (!this.inFlight) this.startBatch();
      if (this.inFlight) await this.inFlight.done;
    }
  }

  /**
   * Flushes, loads back anything spilled if the database works again, closes the writer and store. Called
   * once forwarding has stopped: when the writer thread never started (a short run, see deferMs), what
   * waits is written on the main thread, as starting the thread would cost more than the write.
   */
  close(): Promise<RecorderStats> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  /**
   * Appends to the journal and returns the record line; null when the exchange cannot be serialized (then
   * dropped: it could never be stored); undefined when the journal failed (recording goes on without it).
   */
  private journaled(ex: Exchange): RecordLine | null | undefined {
    try {
      const line = this.journal!.append(ex);
      if (line === null) this.drop(1, "it cannot be serialized");
      return line;
    } catch (err) {
      this.journalFailed(err as Error);
      return undefined;
    }
  }

  /** Hands what killed runs left in their journals to the spill loader, then starts this run's journal. */
  private openJournal(): void {
    if (!this.useJournal || this.store === null) return;
    try {
      Journal.recover(this.filesBase, this.store, this.spillPath);
      this.journal = new Journal(this.filesBase);
      this.journaling = true;
    } catch (err) {
      this.report(`journal off, a SIGKILL may lose the last ${this.batchMs} ms of exchanges: ${(err as Error).message}`);
    }
  }

  /** A journal that cannot be written is turned off (said once); recording goes on as without one. */
  private journalFailed(err: Error): void {
    const journal = this.journal;
    this.journal = null;
    this.journaling = false;
    journal?.close().catch(() => undefined);
    this.report(`journal off, a SIGKILL may lose the last ${this.batchMs} ms of exchanges: ${err.message}`);
  }

  /** Closes the journal's current file as the segment of the batch taken now. */
  private sealJournal(): Segment | null {
    try {
      return this.journal?.seal() ?? null;
    } catch (err) {
      this.journalFailed(err as Error);
      return null;
    }
  }

  private async shutDown(): Promise<RecorderStats> {
    if (this.state === "new") {
      try {
        this.openStore();
      } catch (err) {
        this.lastError = (err as Error).message;
      }
    }
    this.state = "closing";
    await this.flush();
    await this.storeClosing;
    if (this.spilledSinceReload && Date.now() >= this.retryAt) {
      if (this.store === null) {
        try {
          this.openStore();
        } catch (err) {
          this.lastError = (err as Error).message;
        }
      }
      this.reload();
    }
    this.state = "closed";
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.journal) {
      const journal = this.journal;
      this.journal = null;
      try {
        await journal.close();
        this.store?.deleteMeta(journal.metaKey);
      } catch (err) {
        this.lastError = `cannot close the journal: ${(err as Error).message}`;
      }
    }
    await this.closeStore();
    return this.stats();
  }

  stats(): RecorderStats {
    return { queued: this.queue.length + (this.inFlight?.size ?? 0), ...this.counts, lastError: this.lastError, journal: this.journaling };
  }

  /**
   * How long the next batch gathers: batchMs, or, under steady traffic (the last batch held BUSY_BATCH or
   * more) and while the journal keeps every exchange meanwhile, BUSY_WINDOW_FACTOR times that. A commit has
   * a fixed cost (a page of each index, of the table and of meta written to the WAL), so under load fewer,
   * bigger batches cost less per exchange; without a journal the window stays batchMs (what a SIGKILL may lose).
   */
  batchWindowMs(): number {
    return this.journal !== null && this.lastBatchSize >= BUSY_BATCH ? this.batchMs * BUSY_WINDOW_FACTOR : this.batchMs;
  }

  private schedule(now = false): void {
    if (this.timer !== null) {
      if (!now) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => this.tick(), now ? 0 : Math.max(this.batchWindowMs(), this.deferUntil - Date.now()));
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    this.spillOverflow();
    if (!this.inFlight) this.startBatch(); // otherwise the batch in flight schedules the next when it ends
  }

  /**
   * Keeps memory bounded while the writer is slow: beyond maxQueue, records go to the spill file. With
   * a journal, the whole queue goes, as its journal segment handed to the spill loader by one rename.
   */
  private spillOverflow(): void {
    const room = Math.max(this.maxQueue - (this.inFlight?.size ?? 0), 0);
    if (this.queue.length <= room) return;
    this.aggregates.clear(); // rows leaving the queue are no longer counted into
    const segment = this.sealJournal();
    if (segment) {
      const all = this.queue.splice(0).filter(looksLikeExchange);
      this.spillSegment(all, segment, `more than ${this.maxQueue} exchanges waiting`);
      return;
    }
    this.spill(this.queue.splice(room), `more than ${this.maxQueue} exchanges waiting`);
  }

  /**
   * Spills a batch whose lines are the journal segment. With no spill file yet, the segment becomes it
   * (one rename: its lines are never in two places); otherwise the batch is appended as without a journal
   * and the segment removed (a crash between the two would load those lines twice), so that a database
   * that stays locked fills one spill file, not a file per batch.
   */
  private spillSegment(batch: Exchange[], segment: Segment, reason: string): void {
    if (!existsSync(this.spillPath)) {
      try {
        renameSync(segment.path, this.spillPath);
        this.counts.spilled += batch.length;
        this.spilledSinceReload = true;
        return;
      } catch {
        // the spill folder is elsewhere or gone: write the lines as without a journal
      }
    }
    this.spill(batch, reason);
    rmQuiet(segment.path);
  }

  /** Sends the queue to the writer as one transaction; when the database is failing, spills it instead. */
  private startBatch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.spillOverflow();
    if (this.queue.length === 0) return;
    const batch = this.queue.filter(looksLikeExchange);
    if (batch.length < this.queue.length) this.drop(this.queue.length - batch.length, "record() was given something that is not an exchange");
    this.lastBatchSize = batch.length;
    this.queue = [];
    this.aggregates.clear();
    const segment = this.sealJournal();
    if (batch.length === 0) {
      if (segment) rmQuiet(segment.path);
      return;
    }
    if (Date.now() < this.retryAt) {
      if (segment) this.spillSegment(batch, segment, this.dbError ?? "database unavailable");
      else this.spill(batch, this.dbError ?? "database unavailable");
      return;
    }
    const done = this.writeBatch(batch, segment).finally(() => {
      this.inFlight = null;
      if (this.queue.length > 0 && this.state === "open") this.schedule();
    });
    this.inFlight = { size: batch.length, done };
  }

  /** The batch's commit also records its journal segment as committed (so a restart never loads it twice), then removes it. */
  private async writeBatch(batch: Exchange[], segment: Segment | null): Promise<void> {
    try {
      if (this.fileChanged()) await this.switchToNewFile();
      await this.storeClosing; // a connection being closed after a failure must be gone before a new one opens
      if (this.state !== "open" && this.writer === null) {
        if (this.store === null) this.openStore();
        this.writeHere(batch, segment?.meta ?? null);
      } else {
        // SQLite: the main-thread connection creates and migrates the file first. PostgreSQL: only the
        // asynchronous writer (it connects in its own thread), so a server that is away never blocks forwarding;
        // the main-thread connection is opened again when a spill needs loading back.
        if (this.store === null && !this.postgres) this.openStore();
        this.writer ??= openStoreWriter(this.postgres ? this.dbPath : this.store!.path, { busyTimeoutMs: WRITER_BUSY_TIMEOUT_MS });
        await this.writer.insertMany(batch, this.flagsOf, segment?.meta, (ex) => this.lines.get(ex));
      }
    } catch (err) {
      const reason = this.failed(err as Error);
      if (segment) this.spillSegment(batch, segment, reason);
      else this.spill(batch, reason);
      return;
    }
    if (segment && this.journal) this.journal.remove(segment);
    else if (segment) rmQuiet(segment.path);
    this.succeeded(batch);
  }

  private succeeded(batch: Exchange[]): void {
    this.failures = 0;
    this.retryAt = 0;
    for (const ex of batch) this.counts.written += ex.repeat?.count ?? 1; // an aggregated row counts what it stands for
    this.notify(batch);
    if (this.spilledSinceReload && this.state === "open" && spillSize(this.spillPath) <= LIVE_RELOAD_MAX_BYTES) this.reload();
  }

  /** Notes the failure, plans the retry, and returns the one-line reason. */
  private failed(err: Error): string {
    const reason = `cannot write ${this.dbPath}: ${oneLine(err.message)}`;
    this.dbError = reason;
    this.lastError = reason;
    this.failures++;
    // The next batch retries; after that, back off so a long-held lock is not retried for every batch.
    this.retryAt = this.failures < 2 ? 0 : Date.now() + Math.min(this.batchMs * 2 ** (this.failures - 1), MAX_RETRY_DELAY_MS);
    const code = (err as { code?: string }).code ?? "";
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code) && !this.warnedDamaged) {
      this.warnedDamaged = true;
      this.report(`${this.dbPath} is damaged (SQLite: ${err.message}): exchanges go to ${this.spillPath} until it is replaced`);
    }
    if (code !== "SQLITE_BUSY" && code !== "SQLITE_LOCKED") this.storeClosing = this.closeStore(); // reopen on the next batch
    return reason;
  }

  /** True when the database file was deleted or replaced since it was opened. */
  private fileChanged(): boolean {
    if (this.storeFile === null) return false;
    const st = statSync(this.dbPath, { throwIfNoEntry: false });
    return !st || st.dev !== this.storeFile.dev || st.ino !== this.storeFile.ino;
  }

  /** Closes the old connections, then lets the next open create a fresh file at the same path. */
  private async switchToNewFile(): Promise<void> {
    await this.closeStore();
    this.lastError = `${this.dbPath} was deleted or replaced while recording; recording into a new file`;
    if (existsSync(this.dbPath)) return;
    // The old WAL and shared-memory files belong to the deleted database: never replay them into the new one.
    for (const suffix of ["-wal", "-shm"]) rmQuiet(this.dbPath + suffix);
  }

  /**
   * The batch's transaction on the main-thread connection, as the writer thread would write it (same
   * rows, flags and journal meta): only while closing, when nothing forwards any more.
   */
  private writeHere(batch: Exchange[], meta: [string, string] | null): void {
    const store = this.store!;
    store.transaction(() => {
      store.insertMany(batch, this.flagsOf);
      if (meta) store.setMeta(meta[0], meta[1]);
    });
  }

  /**
   * The main-thread connection (the writer thread starts with the first batch). check: run quick_check first
   * (at start only: it reads the whole file).
   */
  private openStore(check = false): void {
    const store = Store.open(this.dbPath, { create: true, busyTimeoutMs: WRITER_BUSY_TIMEOUT_MS, check });
    this.store = store;
    if (!this.postgres) {
      const st = statSync(this.dbPath);
      this.storeFile = { dev: st.dev, ino: st.ino };
    }
  }

  private async closeStore(): Promise<void> {
    const { store, writer } = this;
    this.store = null;
    this.writer = null;
    this.storeFile = null;
    try {
      store?.close();
    } catch {
      // closing a broken connection
    }
    await writer?.close();
  }

  private spill(records: Exchange[], reason: string): void {
    try {
      const n = appendSpill(this.spillPath, records);
      this.counts.spilled += n;
      this.spilledSinceReload ||= n > 0;
      if (n < records.length) this.drop(records.length - n, "they cannot be serialized");
    } catch (err) {
      this.drop(records.length, `${reason}, and cannot write ${this.spillPath}: ${oneLine((err as Error).message)}`);
    }
  }

  private drop(n: number, why: string): void {
    this.counts.dropped += n;
    this.report(`dropped ${n} exchange(s): ${why}`);
  }

  /** Loads the spill file back through the main-thread connection; on failure it stays for a later try. */
  private reload(): void {
    if (this.store === null && this.postgres && this.state !== "new") {
      try {
        this.store = Store.open(this.dbPath, { create: true });
      } catch (err) {
        this.lastError = `cannot load ${this.spillPath} back: ${(err as Error).message}`;
        return;
      }
    }
    if (this.store === null) return;
    try {
      const { exchanges, unreadable } = reloadSpill(this.store, this.spillPath, this.flagsOf);
      this.spilledSinceReload = false;
      this.counts.reloaded += exchanges.length;
      if (unreadable > 0) this.report(`skipped ${unreadable} unreadable line(s) in ${this.spillPath}`);
      if (exchanges.length > 0) this.notify(exchanges);
    } catch (err) {
      this.lastError = `cannot load ${this.spillPath} back: ${(err as Error).message}`;
    }
  }

  private notify(exchanges: Exchange[]): void {
    try {
      this.onWritten?.(exchanges);
    } catch (err) {
      this.lastError = `onWritten failed: ${(err as Error).message}`;
    }
  }

  /** One warning line per event: never a copy of an earlier warning inside it. */
  private report(message: string): void {
    message = oneLine(message);
    this.lastError = message;
    try {
      this.onError?.(message);
    } catch {
      // a failing error handler must not break recording
    }
  }
}

/** The local files (spill, journal) of a recording into PostgreSQL: one set per database URL, in the state directory. */
export function localFilesBase(stateDir: string, spec: string): string {
  return join(stateDir, `postgres-${createHash("sha256").update(spec).digest("hex").slice(0, 12)}`);
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}
