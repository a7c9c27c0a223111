// The SQLite engine: a better-sqlite3 connection behind the store's SqlConnection (statements prepared once),
// SQLite's dialect fragments, and its batch insert. Opening, checking and migrating the file is open.ts.
import { resolve } from "node:path";
import type Database from "better-sqlite3";
import type { CertInfo, Exchange } from "../types.js";
import { openDatabase } from "./open.js";
import type { OpenOptions } from "./recording-store.js";
import {
  aggregateParams, chainFingerprint, detailJson, exchangeParams, FIND_AGGREGATE_SQL, INSERT_CHAIN_SQL, INSERT_DETAIL_SQL,
  INSERT_EXCHANGE_SQL, INSERT_FLAG_SQL, INSERT_SOURCE_SQL, MERGE_AGGREGATE_SQL, SELECT_CHAIN_ID_SQL, SELECT_SOURCE_ID_SQL, SET_AGGREGATE_SQL,
  sourceParams, UNKNOWN_SOURCE_ID,
} from "./rows.js";
import type { Dialect, SqlConnection } from "./sql.js";
import { SqlStore } from "./sql-store.js";

const MAX_CACHED_STATEMENTS = 256;

export const sqliteDialect: Dialect = {
  name: "sqlite",
  idsIn: "(SELECT value FROM json_each(?))",
  contains: (column) => `instr(${column}, ?) > 0`,
  flagList: "group_concat(f.kind, char(31))",
  idList: "group_concat(e.id)",
  jsonText: (column, path) => `json_extract(${column}, '$.${path.map((k) => (/^[A-Za-z_]\w*$/.test(k) ? k : `"${k}"`)).join(".")}')`,
  byPrimaryKey: " NOT INDEXED",
  idNoIndex: "+e.id",
  percentiles: () => null,
};

type Mode = "all" | "rows" | "column";

class SqliteConnection implements SqlConnection {
  private readonly statements = new Map<string, Database.Statement>();
  /** chain fingerprint → tls_chains.id, for chains known to be committed */
  private readonly chainIds = new Map<string, number>();
  /** sourceParams joined → sources.id, for sources known to be committed */
  private readonly sourceIds = new Map<string, number>();

  constructor(private readonly db: Database.Database) {}

  all<T>(sql: string, params: unknown[] = []): T[] {
    return this.stmt(sql, "all").all(...params) as T[];
  }

  rows(sql: string, params: unknown[] = []): unknown[][] {
    return this.stmt(sql, "rows").all(...params) as unknown[][];
  }

  column<T>(sql: string, params: unknown[] = []): T[] {
    return this.stmt(sql, "column").all(...params) as T[];
  }

  value<T>(sql: string, params: unknown[] = []): T | undefined {
    return this.stmt(sql, "column").get(...params) as T | undefined;
  }

  run(sql: string, params: unknown[] = []): number {
    return this.stmt(sql, "all").run(...params).changes;
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.chainIds.clear();
      this.sourceIds.clear();
      throw err;
    }
  }

  insertBatch(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string]): number[] {
    const newChains = new Map<string, number>();
    const newSources = new Map<string, number>();
    const ids = this.transaction(() => {
      if (meta) this.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", meta);
      return exchanges.map((ex) => {
        const id = this.insertOne(ex, newChains, newSources);
        if (flagsOf) for (const kind of flagsOf(ex)) this.run(INSERT_FLAG_SQL, [id, kind]);
        return id;
      });
    });
    for (const [fp, id] of newChains) this.chainIds.set(fp, id);
    for (const [key, id] of newSources) this.sourceIds.set(key, id);
    return ids;
  }

  /** The bytes of the database pages in use (the file keeps freed pages and reuses them). */
  usedBytes(): number {
    const pageSize = this.db.pragma("page_size", { simple: true }) as number;
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private insertOne(ex: Exchange, newChains: Map<string, number>, newSources: Map<string, number>): number {
    const sourceId = this.sourceIdFor(ex, newSources);
    const aggregate = aggregateParams(ex);
    if (aggregate) {
      const existing = this.value<number>(FIND_AGGREGATE_SQL, [...aggregate[0], sourceId]);
      if (existing !== undefined) {
        this.run(MERGE_AGGREGATE_SQL, [...aggregate[1], existing]);
        return existing;
      }
    }
    const chain = ex.tls?.chain;
    const chainId = chain && chain.length > 0 ? this.chainIdFor(chain, newChains) : null;
    const id = Number(this.stmt(INSERT_EXCHANGE_SQL, "all").run(...exchangeParams(ex, chainId, sourceId)).lastInsertRowid);
    this.run(INSERT_DETAIL_SQL, [id, detailJson(ex)]);
    if (aggregate) this.run(SET_AGGREGATE_SQL, [aggregate[1][0], aggregate[1][2], id]);
    return id;
  }

  private sourceIdFor(ex: Exchange, newSources: Map<string, number>): number {
    const params = sourceParams(ex);
    if (!params) return UNKNOWN_SOURCE_ID;
    const key = JSON.stringify(params);
    const known = this.sourceIds.get(key) ?? newSources.get(key);
    if (known !== undefined) return known;
    this.run(INSERT_SOURCE_SQL, params);
    const id = this.value<number>(SELECT_SOURCE_ID_SQL, params)!;
    newSources.set(key, id);
    return id;
  }

  private chainIdFor(chain: CertInfo[], newChains: Map<string, number>): number {
    const fp = chainFingerprint(chain);
    const known = this.chainIds.get(fp) ?? newChains.get(fp);
    if (known !== undefined) return known;
    this.run(INSERT_CHAIN_SQL, [fp, JSON.stringify(chain)]);
    const id = this.value<number>(SELECT_CHAIN_ID_SQL, [fp])!;
    newChains.set(fp, id);
    return id;
  }

  /** Prepares each distinct SQL text once per mode. */
  private stmt(sql: string, mode: Mode): Database.Statement {
    const key = `${mode}\u0000${sql}`;
    let s = this.statements.get(key);
    if (!s) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      s = this.db.prepare(sql);
      if (mode === "rows" && s.reader) s.raw(true);
      if (mode === "column" && s.reader) s.pluck(true);
      this.statements.set(key, s);
    }
    return s;
  }
}

/** Opens (creating and migrating unless readonly) the SQLite recording at path. */
export function openSqliteStore(path: string, opts: OpenOptions = {}): SqlStore {
  const full = resolve(path);
  return new SqlStore(full, "sqlite", new SqliteConnection(openDatabase(full, opts)), sqliteDialect);
}
