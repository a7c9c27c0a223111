// The spill file: exchanges that could not reach the database, appended beside it as JSON
// lines (0600), and loaded back into the store exactly once, in chunks that record their progress.
import { appendFileSync, existsSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { fromRecordLine, isRecordLine } from "../store/rows.js";
import type { Store } from "../store/store.js";
import type { Exchange } from "../types.js";
import { looksLikeExchange } from "./shape.js";

/** meta key holding "<loading file name>#<lines done>" for the spill file being loaded back */
export const SPILL_PROGRESS_KEY = "spill.progress";
const CHUNK = 5000;

/** Appends the exchanges in one write and returns how many were written; throws when the file cannot be written. */
export function appendSpill(path: string, exchanges: Exchange[]): number {
  let text = "";
  let n = 0;
  for (const ex of exchanges) {
    try {
      text += JSON.stringify({ ...ex, id: undefined }) + "\n";
      n++;
    } catch {
      // not serializable (a cycle, a BigInt): counted as dropped by the caller
    }
  }
  if (n > 0) appendFileSync(path, text, { mode: 0o600 });
  return n;
}

/** Bytes waiting to be loaded back: the spill file and any file handed over to be loaded (adoptIntoSpill). */
export function spillSize(path: string): number {
  const prefix = `${basename(path)}.loading-`;
  let total = 0;
  const dir = dirname(path);
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => n === basename(path) || n.startsWith(prefix)) : [];
  for (const name of names) {
    try {
      total += statSync(join(dir, name)).size;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

let loadingSeq = 0;

/** A fresh "<spill>.loading-<stamp>" name; names made later sort later, so files load in the order they were handed over. */
function loadingName(spillPath: string): string {
  const seq = (loadingSeq = (loadingSeq + 1) % 1e6).toString().padStart(6, "0");
  return `${basename(spillPath)}.loading-${Date.now().toString().padStart(15, "0")}-${seq}-${randomBytes(4).toString("hex")}`;
}

/**
 * Hands a file of spill lines (a journal segment) over to be loaded back like the spill file, by one
 * rename: nothing is copied, and at no moment are its lines in two places. Throws when it cannot be renamed.
 */
export function adoptIntoSpill(file: string, spillPath: string): void {
  renameSync(file, join(dirname(spillPath), loadingName(spillPath)));
}

export interface ReloadResult {
  exchanges: Exchange[];
  /** lines that were not JSON (a write cut short by a crash) */
  unreadable: number;
}

/**
 * Loads the spill file (and any half-loaded one left by a crash) into the store, then removes it.
 * The file is first renamed to "<spill>.loading-<stamp>"; each chunk's insert and its progress
 * mark commit together, so a crash at any point neither loses nor duplicates a record.
 * Throws when the store cannot be written (the files stay for the next try).
 */
export function reloadSpill(store: Store, spillPath: string, flagsOf?: (ex: Exchange) => string[]): ReloadResult {
  const dir = dirname(spillPath);
  const prefix = `${basename(spillPath)}.loading-`;
  const result: ReloadResult = { exchanges: [], unreadable: 0 };
  const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(prefix)).sort() : [];
  if (existsSync(spillPath)) {
    const name = loadingName(spillPath);
    renameSync(spillPath, join(dir, name));
    names.push(name);
  }
  for (const name of names) loadOne(store, join(dir, name), name, result, flagsOf);
  return result;
}

function loadOne(store: Store, file: string, name: string, result: ReloadResult, flagsOf?: (ex: Exchange) => string[]): void {
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  const progress = store.meta(SPILL_PROGRESS_KEY);
  let done = progress?.startsWith(`${name}#`) ? Number(progress.slice(name.length + 1)) || 0 : 0;
  while (done < lines.length) {
    const end = Math.min(done + CHUNK, lines.length);
    const chunk: Exchange[] = [];
    for (const line of lines.slice(done, end)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
        if (isRecordLine(parsed)) parsed = fromRecordLine(parsed); // a journal segment's line
      } catch {
        parsed = undefined;
      }
      if (looksLikeExchange(parsed)) chunk.push(parsed);
      else result.unreadable++;
    }
    store.transaction(() => {
      store.insertMany(chunk, flagsOf);
      store.setMeta(SPILL_PROGRESS_KEY, `${name}#${end}`);
    });
    result.exchanges.push(...chunk);
    done = end;
  }
  unlinkSync(file);
}
