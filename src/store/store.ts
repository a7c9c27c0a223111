// The recording store: writes exchanges in transactions and answers filtered queries over
// them (list, count, get, streaming iterate, flags, meta). The only user of better-sqlite3.
import { resolve } from "node:path";
import type Database from "better-sqlite3";
import { UserError } from "../errors.js";
import type { CertInfo, Exchange } from "../types.js";
import { limitOf, whereClause, type ListFilter, type WhereClause } from "./filter.js";
import { openDatabase, type OpenOptions } from "./open.js";
import {
  chainFingerprint, detailJson, exchangeParams, FLAG_SEPARATOR, INSERT_CHAIN_SQL, INSERT_DETAIL_SQL, INSERT_EXCHANGE_SQL,
  SELECT_CHAIN_ID_SQL, toExchange, toExchangeRow,
  type ExchangeColumns, type ExchangeRow,
} from "./rows.js";

export type { ListFilter } from "./filter.js";
export type { ExchangeRow } from "./rows.js";
export type { OpenOptions } from "./open.js";

const ROW_COLUMNS = `e.*, (SELECT group_concat(f.kind, char(31)) FROM exchange_flags f WHERE f.exchange_id = e.id) AS flags`;
const FULL_FROM = `FROM exchanges e JOIN exchange_details d ON d.exchange_id = e.id`;
const ITERATE_PAGE = 1000;
const MAX_CACHED_STATEMENTS = 256;

type FullRow = ExchangeColumns & { detail: string };

export class Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** chain fingerprint → tls_chains.id, for chains known to be committed */
  private readonly chainIds = new Map<string, number>();

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  static open(path: string, opts: OpenOptions = {}): Store {
    const full = resolve(path);
    return new Store(full, openDatabase(full, opts));
  }

  /** Writes all exchanges in one transaction; returns their ids in order and sets exchange.id. */
  insertMany(exchanges: Exchange[]): number[] {
    if (exchanges.length === 0) return [];
    const newChains = new Map<string, number>();
    let ids: number[];
    try {
      ids = this.db.transaction(() => exchanges.map((ex) => this.insertOne(ex, newChains))).immediate();
    } catch (err) {
      this.chainIds.clear();
      throw err;
    }
    exchanges.forEach((ex, i) => (ex.id = ids[i]));
    for (const [fp, id] of newChains) this.chainIds.set(fp, id);
    return ids;
  }

  /** Runs fn in one transaction (nested calls such as insertMany become savepoints). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.chainIds.clear();
      throw err;
    }
  }

  /** Matching exchanges, oldest first (by start time, then id); with limit, the newest N. */
  list(filter: ListFilter = {}): ExchangeRow[] {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    if (limit === null) {
      const rows = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e${where.sql} ORDER BY e.started_at, e.id`).all(...where.params);
      return (rows as (ExchangeColumns & { flags: string | null })[]).map(toExchangeRow);
    }
    const rows = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?`)
      .all(...where.params, limit) as (ExchangeColumns & { flags: string | null })[];
    return rows.reverse().map(toExchangeRow);
  }

  count(filter: ListFilter = {}): number {
    const where = whereClause(filter);
    const n = this.stmt(`SELECT count(*) FROM exchanges e${where.sql}`).pluck().get(...where.params) as number;
    const limit = limitOf(filter);
    return limit === null ? n : Math.min(n, limit);
  }

  /** Everything recorded about one exchange, or null when there is no such id. */
  get(id: number): Exchange | null {
    const row = this.stmt(`SELECT e.*, d.detail ${FULL_FROM} WHERE e.id = ?`).get(id) as FullRow | undefined;
    if (!row) return null;
    return toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, new Map()));
  }

  /**
   * Full exchanges in list order, read in pages of 1000 so millions of rows stream in bounded
   * memory and the connection stays free between pages (setFlags may be called while iterating).
   * Exchanges on one connection share one (read-only) chain array.
   */
  iterate(filter: ListFilter = {}): IterableIterator<Exchange> {
    const where = whereClause(filter); // checked now, not at the first next()
    return this.pages(where, limitOf(filter));
  }

  private *pages(where: WhereClause, limit: number | null): IterableIterator<Exchange> {
    if (limit === 0) return;
    let remaining = limit ?? Infinity;
    let cursor: [number, number] = [-Infinity, -Infinity];
    if (limit !== null) {
      // Start at the oldest of the newest N, so that only N rows are read.
      const first = this.stmt(`SELECT e.started_at, e.id FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT 1 OFFSET ?`)
        .raw().get(...where.params, limit - 1) as [number, number] | undefined;
      if (first) cursor = [first[0], first[1] - 1]; // ids are whole numbers: includes `first` itself
    }
    const joiner = where.sql ? " AND " : " WHERE ";
    const page = this.stmt(
      `SELECT e.*, d.detail ${FULL_FROM}${where.sql}${joiner}(e.started_at, e.id) > (?, ?) ORDER BY e.started_at, e.id LIMIT ?`,
    );
    const chains = new Map<number, CertInfo[]>();
    while (remaining > 0) {
      const rows = page.all(...where.params, cursor[0], cursor[1], Math.min(ITERATE_PAGE, remaining)) as FullRow[];
      for (const row of rows) {
        yield toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, chains));
      }
      if (rows.length < ITERATE_PAGE) return;
      const last = rows[rows.length - 1]!;
      cursor = [last.started_at, last.id];
      remaining -= rows.length;
    }
  }

  /** Replaces the flag kinds raised on one exchange. */
  setFlags(id: number, kinds: string[]): void {
    this.setFlagsMany([[id, kinds]]);
  }

  /** setFlags for many exchanges in one transaction (what an analyzer pass over a large recording wants). */
  setFlagsMany(entries: Iterable<[number, string[]]>): void {
    const del = this.stmt("DELETE FROM exchange_flags WHERE exchange_id = ?");
    const ins = this.stmt("INSERT OR IGNORE INTO exchange_flags (exchange_id, kind) VALUES (?, ?)");
    this.db.transaction(() => {
      for (const [id, kinds] of entries) {
        for (const kind of kinds) {
          if (typeof kind !== "string" || kind === "" || kind.includes(FLAG_SEPARATOR)) {
            throw new UserError(`flag kind ${JSON.stringify(kind)} must be non-empty text`);
          }
        }
        del.run(id);
        for (const kind of kinds) ins.run(id, kind);
      }
    }).immediate();
  }

  meta(key: string): string | null {
    const value = this.stmt("SELECT value FROM meta WHERE key = ?").pluck().get(key) as string | undefined;
    return value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.stmt("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private insertOne(ex: Exchange, newChains: Map<string, number>): number {
    const chain = ex.tls?.chain;
    const chainId = chain && chain.length > 0 ? this.chainIdFor(chain, newChains) : null;
    const id = Number(this.stmt(INSERT_EXCHANGE_SQL).run(...exchangeParams(ex, chainId)).lastInsertRowid);
    this.stmt(INSERT_DETAIL_SQL).run(id, detailJson(ex));
    return id;
  }

  private chainIdFor(chain: CertInfo[], newChains: Map<string, number>): number {
    const fp = chainFingerprint(chain);
    const known = this.chainIds.get(fp) ?? newChains.get(fp);
    if (known !== undefined) return known;
    this.stmt(INSERT_CHAIN_SQL).run(fp, JSON.stringify(chain));
    const id = this.stmt(SELECT_CHAIN_ID_SQL).pluck().get(fp) as number;
    newChains.set(fp, id);
    return id;
  }

  private chain(id: number, cache: Map<number, CertInfo[]>): CertInfo[] {
    let chain = cache.get(id);
    if (!chain) {
      const text = this.stmt("SELECT chain FROM tls_chains WHERE id = ?").pluck().get(id) as string | undefined;
      chain = text ? (JSON.parse(text) as CertInfo[]) : [];
      cache.set(id, chain);
    }
    return chain;
  }

  /** Prepares each distinct SQL text once. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
}
