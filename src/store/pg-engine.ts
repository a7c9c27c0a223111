// The PostgreSQL engine: the store's synchronous SqlConnection over a pg worker (pg-worker.ts; the caller blocks
// on Atomics.wait, so every consumer keeps its synchronous calls), PostgreSQL's dialect fragments, and opening:
// identify the database as a recording, and run pending migrations under an advisory lock.
import { UserError } from "../errors.js";
import type { Exchange } from "../types.js";
import { connectionString, parseDbSpec } from "./db-spec.js";
import { MIGRATION_LOCK, PG_APP_MARKER, PG_LATEST_VERSION, PG_SCHEMA_TABLE, pgMigrations } from "./pg-schema.js";
import { callSync, PgError, startPgWorker, type PgWorkerHandle } from "./pg-worker.js";
import type { OpenOptions } from "./recording-store.js";
import { aggregateParams, sourceParams } from "./rows.js";
import type { Dialect, SqlConnection } from "./sql.js";
import { SqlStore } from "./sql-store.js";

export const pgDialect: Dialect = {
  name: "postgres",
  idsIn: "(SELECT value::bigint FROM json_array_elements_text(?::json))",
  contains: (column) => `strpos(${column}, ?) > 0`,
  flagList: "string_agg(f.kind, chr(31))",
  idList: "string_agg(e.id::text, ',')",
  jsonText: (column, path) => `(${column}::json${path.map((k, i) => `${i === path.length - 1 ? "->>" : "->"}'${k}'`).join("")})`,
  byPrimaryKey: "",
  idNoIndex: "(e.id + 0)",
  percentiles: (ps) => `percentile_disc(ARRAY[${ps.map((p) => Number(p)).join(", ")}]::float8[]) WITHIN GROUP (ORDER BY duration_ms)`,
};

/** `?` placeholders as PostgreSQL's $1, $2, ... (the store's SQL has no ? inside literals). */
const numbered = new Map<string, string>();
function toPg(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size > 1000) numbered.clear();
    numbered.set(sql, text);
  }
  return text;
}

class PgConnection implements SqlConnection {
  private closed = false;

  constructor(private readonly handle: PgWorkerHandle) {}

  call(msg: Record<string, unknown>): unknown {
    if (this.closed) throw new PgError("the PostgreSQL connection is closed", "");
    return callSync(this.handle, msg);
  }

  private query(sql: string, params: unknown[], mode: "all" | "rows" | "run"): unknown {
    return this.call({ op: "query", sql: toPg(sql), params, mode });
  }

  all<T>(sql: string, params: unknown[] = []): T[] {
    return this.query(sql, params, "all") as T[];
  }

  rows(sql: string, params: unknown[] = []): unknown[][] {
    return this.query(sql, params, "rows") as unknown[][];
  }

  column<T>(sql: string, params: unknown[] = []): T[] {
    return this.rows(sql, params).map((r) => r[0] as T);
  }

  value<T>(sql: string, params: unknown[] = []): T | undefined {
    const r = this.rows(sql, params)[0];
    return r === undefined ? undefined : (r[0] as T);
  }

  run(sql: string, params: unknown[] = []): number {
    return this.query(sql, params, "run") as number;
  }

  transaction<T>(fn: () => T): T {
    this.call({ op: "begin" });
    let result: T;
    try {
      result = fn();
    } catch (err) {
      try {
        this.call({ op: "rollback" });
      } catch {
        // the connection is gone: the server rolls back
      }
      throw err;
    }
    this.call({ op: "commit" });
    return result;
  }

  insertBatch(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string]): number[] {
    const rows = exchanges.map((ex) => ({ json: JSON.stringify(ex), flags: flagsOf ? flagsOf(ex) : [], aggregate: aggregateParams(ex), source: sourceParams(ex) }));
    return this.call({ op: "insert", rows, meta: meta ?? null }) as number[];
  }

  usedBytes(): number {
    return Number(this.value(`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
      WHERE c.relkind = 'r' AND c.relname IN ('exchanges', 'exchange_details', 'exchange_flags', 'tls_chains', 'sources', 'meta')
      AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`));
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ op: "close" });
    } catch {
      // closing a broken connection
    }
    this.closed = true;
    void this.handle.worker.terminate();
  }
}

/** Opens the recording in the PostgreSQL database a postgres:// URL names (masked by parseDbSpec, or not), migrating it unless readonly. */
export function openPgStore(given: string, opts: OpenOptions = {}): SqlStore {
  const spec = (parseDbSpec(given) as { url: string }).url; // a URL that still holds its password: kept for connecting, masked for showing
  const conn = new PgConnection(startPgWorker(connectionString(spec), true));
  try {
    try {
      conn.call({ op: "connect" });
    } catch (err) {
      const noPassword = /client password must be a string/.test((err as Error).message);
      const why = noPassword ? "the server asks for a password and none was given" : oneLine((err as Error).message);
      throw new UserError(`cannot connect to ${spec}: ${why}`, connectHint(err as PgError, noPassword));
    }
    const readonly = opts.readonly ?? false;
    const create = !readonly && (opts.create ?? true);
    const version = identify(conn, spec, create);
    if (version > PG_LATEST_VERSION) {
      throw new UserError(`${spec} has schema version ${version}, newer than this kubewire build reads (version ${PG_LATEST_VERSION})`, "upgrade kubewire to read this recording");
    }
    if (version < PG_LATEST_VERSION) {
      if (readonly) {
        throw new UserError(`${spec} has schema version ${version}, older than this build's ${PG_LATEST_VERSION}`, "open it once with write access (for example by recording) to upgrade it");
      }
      migrate(conn);
    }
    if (readonly) conn.run("SET default_transaction_read_only = on"); // as SQLite's readonly: the query commands cannot write
    return new SqlStore(spec, "postgres", conn, pgDialect);
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** The recording's schema version; 0 when the database has no recording yet (refused unless create). */
function identify(conn: PgConnection, spec: string, create: boolean): number {
  const hasMeta = conn.value<string>("SELECT to_regclass('meta')::text") !== null;
  if (!hasMeta) {
    if (create) return 0;
    throw new UserError(`no recording at ${spec}`, "start kubewire with this --db to record into it, or push a recording: kubewire push --db FILE --to URL");
  }
  const app = conn.value<string>("SELECT value FROM meta WHERE key = 'app'");
  if (app !== PG_APP_MARKER || conn.value<string>("SELECT to_regclass('schema_migrations')::text") === null) {
    throw new UserError(`${spec} has a table named meta but is not a kubewire recording`, "give kubewire its own database or schema (?options=-c%20search_path%3Dkubewire)");
  }
  return Number(conn.value("SELECT coalesce(max(version), 0) FROM schema_migrations"));
}

/** Each pending step in its own transaction, under an advisory lock, re-reading the version once it holds it. */
function migrate(conn: PgConnection): void {
  for (const step of pgMigrations) {
    conn.transaction(() => {
      conn.run("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK]);
      conn.run(PG_SCHEMA_TABLE);
      const current = Number(conn.value("SELECT coalesce(max(version), 0) FROM schema_migrations"));
      if (current >= step.version) return;
      conn.run(step.sql);
      conn.run("INSERT INTO schema_migrations (version, description) VALUES (?, ?)", [step.version, step.description]);
    });
  }
}

function connectHint(err: PgError, noPassword: boolean): string {
  if (err.code === "ECONNREFUSED") return "is the PostgreSQL server running, and are host and port right?";
  if (noPassword || err.code === "28P01" || err.code === "28000") return "the password comes from the URL, PGPASSWORD or ~/.pgpass";
  if (err.code === "3D000") return "create the database first (createdb NAME)";
  return "check the URL: postgres://USER@HOST:PORT/DATABASE";
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}
