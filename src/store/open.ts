// Opening a recording file safely: creates it (0600, folder 0700) for the writer, refuses
// what is not SQLite, not kubewire's, or newer than this build, and runs pending migrations.
import { closeSync, chmodSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { UserError } from "../errors.js";
import { APP_MARKER, LATEST_VERSION, migrations } from "./migrations.js";

export interface OpenOptions {
  /** open for reading only; the file must exist and be at the latest schema */
  readonly?: boolean;
  /** make the file and its folder when missing (default true unless readonly) */
  create?: boolean;
  /** how long a write waits for another connection's lock (default 5000 ms; the recorder uses 50) */
  busyTimeoutMs?: number;
}

const NO_RECORDING_HINT = "start kubewire to record traffic, or point it at an existing recording";

export function openDatabase(path: string, opts: OpenOptions): Database.Database {
  const readonly = opts.readonly ?? false;
  const create = !readonly && (opts.create ?? true);
  if (create) makeFile(path);
  else if (!existsSync(path)) throw new UserError(`no recording at ${path}`, NO_RECORDING_HINT);

  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: !create, timeout: opts.busyTimeoutMs ?? 5000 });
  } catch (err) {
    throw new UserError(`cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const version = identify(db, path, { readonly, create });
    if (!readonly) {
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
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT") throw new UserError(`${path} is not a SQLite database, so not a kubewire recording`);
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
