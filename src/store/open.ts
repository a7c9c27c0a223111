// Opening a recording file safely: creates it (0600, folder 0700) for the writer, tightens a loose
// mode, refuses what is not SQLite, not kubewire's, damaged, or newer than this build, and migrates.
import { closeSync, chmodSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { UserError } from "../errors.js";
import { APP_MARKER, LATEST_VERSION, migrations } from "./migrations.js";
import type { OpenOptions } from "./recording-store.js";


/** The files of one recording that hold recorded traffic: the database and its WAL companions. */
const COMPANIONS = ["", "-wal", "-shm"];

/**
 * The page size of a new recording (an existing one keeps its own). An exchange's detail row (headers,
 * bodies) is a few KiB: with SQLite's default 4 KiB pages each took a page of its own, and each commit
 * wrote a page per row; 16 KiB pages hold several, and the recorder's commits write about a third less
 * (BENCHMARKS.md, "Recording cost").
 */
export const PAGE_SIZE = 16384;

const NO_RECORDING_HINT = "start kubewire to record traffic, or point it at an existing recording";

export function openDatabase(path: string, opts: OpenOptions): Database.Database {
  const readonly = opts.readonly ?? false;
  const create = !readonly && (opts.create ?? true);
  if (create) makeFile(path);
  else if (!existsSync(path)) throw new UserError(`no recording at ${path}`, NO_RECORDING_HINT);

  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: !create, timeout: opts.busyTimeoutMs ?? 5000, nativeBinding: nativeBinding() });
  } catch (err) {
    throw new UserError(`cannot open ${path}: ${(err as Error).message}`);
  }
  guardReads(db, path);
  try {
    const version = identify(db, path, { readonly, create });
    // only once the file is known to be a recording (or to become one): another program's file is left as it is
    const notice = opts.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
    for (const suffix of COMPANIONS) keepPrivate(path + suffix, notice);
    if (opts.check && version > 0) quickCheck(db, path);
    if (!readonly) {
      if (version === 0) db.pragma(`page_size = ${PAGE_SIZE}`); // a new file: before WAL mode fixes it
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      if (version < LATEST_VERSION) migrate(db);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

let addonPath: string | null | undefined;

/**
 * better-sqlite3's compiled addon, named directly: without it better-sqlite3 finds it through the `bindings`
 * package, which probes a dozen paths and parses a stack trace (about 15 ms of every command's start-up).
 * undefined (the package finds it) when the build is not where npm puts it.
 */
function nativeBinding(): string | undefined {
  if (addonPath === undefined) {
    try {
      addonPath = createRequire(import.meta.url).resolve("better-sqlite3/build/Release/better_sqlite3.node");
    } catch {
      addonPath = null;
    }
  }
  return addonPath ?? undefined;
}

function makeFile(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(path)) return;
  try {
    closeSync(openSync(path, "a", 0o600));
    chmodSync(path, 0o600);
  } catch (err) {
    throw new UserError(`cannot create ${path}: ${(err as Error).message}`);
  }
}

/** Returns the file's schema version (0 for a new, empty file) or throws a UserError saying why it is not ours. */
function identify(db: Database.Database, path: string, mode: { readonly: boolean; create: boolean }): number {
  let version: number;
  let tables: number;
  try {
    version = db.pragma("user_version", { simple: true }) as number;
    tables = db.prepare("SELECT count(*) FROM sqlite_master").pluck().get() as number;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "SQLITE_NOTADB") throw new UserError(`${path} is not a SQLite database, so not a kubewire recording`);
    if (err instanceof UserError) throw err;
    if (isDamage(err)) throw damagedError(path, (err as Error).message);
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (version === 0 && tables === 0) {
    if (mode.create) return 0;
    throw new UserError(`${path} is an empty database, not a kubewire recording`, NO_RECORDING_HINT);
  }
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  const app = hasMeta ? (db.prepare("SELECT value FROM meta WHERE key = 'app'").pluck().get() as string | undefined) : undefined;
  if (version === 0 || app !== APP_MARKER) throw new UserError(`${path} is a SQLite database but not a kubewire recording`);
  if (version > LATEST_VERSION) {
    throw new UserError(
      `${path} has schema version ${version}, newer than this kubewire build reads (version ${LATEST_VERSION})`,
      "upgrade kubewire to read this recording",
    );
  }
  if (mode.readonly && version < LATEST_VERSION) {
    throw new UserError(
      `${path} has schema version ${version}, older than this build's ${LATEST_VERSION}`,
      "open it once with write access (for example by recording) to upgrade it",
    );
  }
  return version;
}

/** Runs each pending step in its own IMMEDIATE transaction, re-reading the version under the lock. */
function migrate(db: Database.Database): void {
  for (const step of migrations) {
    db.transaction(() => {
      const current = db.pragma("user_version", { simple: true }) as number;
      if (current >= step.version) return;
      step.up(db);
      db.pragma(`user_version = ${step.version}`);
    }).immediate();
  }
}

/**
 * A recording holds API traffic: the file and its WAL companions are kept 0600. A looser mode on a file
 * of ours is tightened, and said; on someone else's file (which kubewire cannot chmod) it is refused.
 */
function keepPrivate(file: string, notice: (line: string) => void): void {
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || (st.mode & 0o077) === 0) return;
  const mode = (st.mode & 0o777).toString(8);
  const ours = typeof process.getuid !== "function" || st.uid === process.getuid();
  if (ours) {
    try {
      chmodSync(file, 0o600);
      notice(`kubewire: ${file} was open to other users (mode ${mode}): tightened to 600, as it holds recorded API traffic`);
      return;
    } catch {
      // fall through to the refusal
    }
  }
  throw new UserError(`${file} is open to other users (mode ${mode}) and kubewire cannot tighten it; refusing to use it, as it holds recorded API traffic`, `run: chmod 600 ${file}`);
}

/** True for SQLite's "the file is damaged" errors. */
function isDamage(err: unknown): boolean {
  return /^SQLITE_(CORRUPT|NOTADB)/.test(String((err as { code?: unknown })?.code ?? ""));
}

/** The one line every command says about a damaged recording. */
export function damagedError(path: string, detail: string): UserError {
  return new UserError(
    `${path} is damaged (SQLite: ${detail.replace(/\s+/g, " ").trim()}); kubewire will neither record into it nor read it`,
    `move it aside to start a new recording (mv ${path} ${path}.damaged); sqlite3's .recover command may save what it holds`,
  );
}

function quickCheck(db: Database.Database, path: string): void {
  let problems: string[];
  try {
    problems = (db.pragma("quick_check(3)") as Array<{ quick_check: string }>).map((r) => r.quick_check);
  } catch (err) {
    throw isDamage(err) ? damagedError(path, (err as Error).message) : new UserError(`cannot check ${path}: ${(err as Error).message}`);
  }
  if (problems.length !== 1 || problems[0] !== "ok") throw damagedError(path, problems.join("; "));
}

/**
 * Every statement prepared on this connection turns SQLite's damage errors into the same one-line
 * UserError, so a query command reading a damaged page says what start says, not "a bug in kubewire".
 */
function guardReads(db: Database.Database, path: string): void {
  const prepare = db.prepare.bind(db);
  const guard = <T extends object>(target: T): T => {
    const proxy: T = new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          try {
            const result = (value as (...a: unknown[]) => unknown).apply(t, args);
            return result === t ? proxy : result;
          } catch (err) {
            throw isDamage(err) ? damagedError(path, (err as Error).message) : err;
          }
        };
      },
    });
    return proxy;
  };
  db.prepare = ((sql: string) => {
    try {
      return guard(prepare(sql));
    } catch (err) {
      throw isDamage(err) ? damagedError(path, (err as Error).message) : err;
    }
  }) as typeof db.prepare;
}
