// The journal: every exchange the recorder is handed is appended (one JSON line, one write(2), no
// fsync) to a file beside the database before it waits in memory, so a SIGKILL loses nothing the
// proxy has answered. Each batch seals the file it fills; its commit records the segment's number in
// the same transaction, and the next start hands what no commit covered to the spill loader.
import { closeSync, existsSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Store } from "../store/store.js";
import type { Exchange } from "../types.js";
import { adoptIntoSpill } from "./spill.js";

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
  private readonly livePath: string;
  private fd: number;
  private written = 0;
  private seq = 0;

  /** Opens this run's journal file beside the database (0600). Throws when it cannot be created. */
  constructor(private readonly dbPath: string) {
    this.run = `${process.pid}-${Date.now()}-${++runCounter}`;
    this.metaKey = JOURNAL_META_PREFIX + this.run;
    this.livePath = `${dbPath}.journal-${this.run}`;
    this.fd = openSync(this.livePath, "a", 0o600);
    openRuns.add(this.run);
  }

  /**
   * Appends one exchange, synchronously. Returns false when it cannot be serialized (nothing is
   * written); throws when the file cannot be written.
   */
  append(ex: Exchange): boolean {
    let line: string;
    try {
      line = JSON.stringify({ ...ex, id: undefined }) + "\n";
    } catch {
      return false;
    }
    this.written += writeSync(this.fd, line);
    return true;
  }

  /** Closes the file written so far as a numbered segment and starts a new one; null when nothing was written. */
  seal(): Segment | null {
    if (this.written === 0) return null;
    const seq = ++this.seq;
    const segment: Segment = { path: `${this.livePath}.${String(seq).padStart(9, "0")}`, seq, meta: [this.metaKey, String(seq)] };
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.livePath, segment.path);
    this.fd = openSync(this.livePath, "a", 0o600);
    this.written = 0;
    return segment;
  }

  /** After a clean shutdown (everything committed or spilled): removes the empty live file. */
  close(): void {
    openRuns.delete(this.run);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    if (this.written === 0) rmQuiet(this.livePath);
  }

  /**
   * Hands over what runs that are gone (killed, crashed) left uncommitted: a segment whose number their
   * meta key covers was committed and is removed; every other segment, then the live file, goes to the
   * spill loader in that order. Returns how many files were handed over.
   */
  static recover(dbPath: string, store: Store, spillPath: string): number {
    const dir = dirname(dbPath);
    const prefix = `${basename(dbPath)}.journal-`;
    if (!existsSync(dir)) return 0;
    const runs = new Map<string, Array<{ name: string; seq: number }>>();
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix)) continue;
      const m = /^(\d+)-(\d+)-(\d+)(?:\.(\d+))?$/.exec(name.slice(prefix.length));
      if (!m) continue;
      const run = `${m[1]}-${m[2]}-${m[3]}`;
      if (openRuns.has(run) || (Number(m[1]) !== process.pid && alive(Number(m[1])))) continue;
      const files = runs.get(run) ?? [];
      files.push({ name, seq: m[4] === undefined ? Infinity : Number(m[4]) });
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function rmQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
