// The journal: every exchange the recorder is handed is appended (its record line, store/rows.ts, which the
// writer thread stores as it is; one write(2), no fsync) to a numbered segment file beside the database
// before it waits in memory, so a SIGKILL loses nothing the recorder was given. Each batch ends the segment
// it fills; its commit records the segment's number in the same transaction, and the next start hands what
// no commit covered to the spill loader.
import { close, closeSync, existsSync, open, openSync, readdirSync, statSync, unlinkSync, writeSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { recordLine, type RecordLine } from "../store/rows.js";
import type { Store } from "../store/store.js";
import type { Exchange } from "../types.js";
import { adoptIntoSpill } from "./spill.js";
import { processAlive } from "../tls/state-dir.js";
import { rmQuiet } from "../remove-file.js";

/** meta key prefix: "journal.<run>" holds the number of the run's last segment committed with its batch */
export const JOURNAL_META_PREFIX = "journal.";

/** Runs of this process that are still open (two recorders may share a database). */
const openRuns = new Set<string>();
let runCounter = 0;

export interface Segment {
  path: string;
  seq: number;
  /** the meta entry its batch's commit sets: [key, seq] */
  meta: [string, string];
}

export class Journal {
  /** "<pid>-<start ms>-<n>": whose files these are, so a later start can tell a dead run's from a live one's */
  readonly run: string;
  readonly metaKey: string;
  private readonly base: string;
  private seq = 1;
  private fd: number;
  private written = 0;
  /** the next segment's file, opened ahead off the main thread so that sealing makes no blocking call */
  private next: { seq: number; fd: number } | null = null;
  /** that file's open, in progress: close() waits for it, so an ahead-opened file is never left behind */
  private opening: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly removing = new Set<Promise<void>>();

  /** Opens this run's first segment beside the database (0600). Throws when it cannot be created. */
  constructor(dbPath: string) {
    this.run = `${process.pid}-${Date.now()}-${++runCounter}`;
    this.metaKey = JOURNAL_META_PREFIX + this.run;
    this.base = `${dbPath}.journal-${this.run}`;
    this.fd = openSync(this.segmentPath(1), "a", 0o600);
    openRuns.add(this.run);
    this.openNext();
  }

  /**
   * Appends one exchange, synchronously (one write(2), no fsync: what is written survives a SIGKILL),
   * and returns its record line (the writer thread stores its parts as they are). Returns null when it
   * cannot be serialized (nothing is written); throws when the file cannot be written.
   */
  append(ex: Exchange): RecordLine | null {
    let line: RecordLine;
    try {
      line = recordLine(ex);
    } catch {
      return null;
    }
    this.written += writeSync(this.fd, line.text + "\n");
    return line;
  }

  /** Ends the segment written so far (the batch taken now) and goes on in the next; null when nothing was written. */
  seal(): Segment | null {
    if (this.written === 0) return null;
    const segment: Segment = { path: this.segmentPath(this.seq), seq: this.seq, meta: [this.metaKey, String(this.seq)] };
    const old = this.fd;
    if (this.next && this.next.seq === this.seq + 1) this.fd = this.next.fd;
    else this.fd = openSync(this.segmentPath(this.seq + 1), "a", 0o600);
    this.next = null;
    this.seq++;
    this.written = 0;
    close(old, () => undefined);
    this.openNext();
    return segment;
  }

  /** Removes a segment whose batch was committed (off the main thread; close() waits for it). */
  remove(segment: Segment): void {
    const p = unlink(segment.path).catch(() => undefined);
    this.removing.add(p);
    void p.then(() => this.removing.delete(p));
  }

  /** After a clean shutdown (everything committed or spilled): closes and removes the empty segment. */
  async close(): Promise<void> {
    this.closed = true;
    openRuns.delete(this.run);
    closeSync(this.fd);
    if (this.written === 0) rmQuiet(this.segmentPath(this.seq));
    this.dropNext();
    await Promise.all([...this.removing, this.opening]);
  }

  private segmentPath(seq: number): string {
    return `${this.base}.${String(seq).padStart(9, "0")}`;
  }

  private openNext(): void {
    const seq = this.seq + 1;
    const path = this.segmentPath(seq);
    this.opening = new Promise((opened) =>
      open(path, "a", 0o600, (err, fd) => {
        opened(); // close() goes on after this callback, which removes the file when closed meanwhile
        if (err) return; // seal() opens it itself
        if (this.closed || seq <= this.seq) {
          close(fd, () => undefined);
          if (this.closed) rmQuiet(path);
          return;
        }
        this.next = { seq, fd };
      }),
    );
  }

  private dropNext(): void {
    if (!this.next) return;
    closeSync(this.next.fd);
    rmQuiet(this.segmentPath(this.next.seq));
    this.next = null;
  }

  /**
   * Hands over what runs that are gone (killed, crashed) left uncommitted: a segment whose number their
   * meta key covers was committed and is removed, as is an empty one; every other segment goes to the
   * spill loader, in order. Returns how many files were handed over.
   */
  static recover(dbPath: string, store: Store, spillPath: string): number {
    const dir = dirname(dbPath);
    const prefix = `${basename(dbPath)}.journal-`;
    if (!existsSync(dir)) return 0;
    const runs = new Map<string, Array<{ name: string; seq: number }>>();
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      const m = /^(\d+)-(\d+)-(\d+)\.(\d+)$/.exec(name.slice(prefix.length));
      if (!m) continue;
      const run = `${m[1]}-${m[2]}-${m[3]}`;
      if (openRuns.has(run) || (Number(m[1]) !== process.pid && processAlive(Number(m[1])))) continue;
      const files = runs.get(run) ?? [];
      files.push({ name, seq: Number(m[4]) });
      runs.set(run, files);
    }
    let handed = 0;
    for (const [run, files] of runs) {
      const key = JOURNAL_META_PREFIX + run;
      const committed = Number(store.meta(key) ?? -1);
      for (const f of files.sort((a, b) => a.seq - b.seq)) {
        const path = join(dir, f.name);
        if (f.seq <= committed || statSync(path).size === 0) {
          unlinkSync(path);
          continue;
        }
        adoptIntoSpill(path, spillPath);
        handed++;
      }
      store.deleteMeta(key);
    }
    return handed;
  }
}

