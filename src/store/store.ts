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

const INSERT_FLAG_SQL = "INSERT OR IGNORE INTO exchange_flags (exchange_id, kind) VALUES (?, ?)";

export interface FlagSummary {
  kind: string;
  count: number;
  /** epoch ms */
  first: number;
  last: number;
  /** the lowest ids, at most the examples asked for */
  ids: number[];
}

/** The narrow columns of one exchange (the shape analyze's whole-set rules read). */
export interface ExchangeSummaryRow {
  id: number;
  startedAt: number;
  method: string;
  path: string;
  query: string;
  verb: string;
  resource: string;
  group: string;
  subresource: string;
  namespace: string;
  context: string;
  status: number | null;
  durationMs: number;
  errorCode: string | null;
  bytesOut: number;
  tlsChainId: number | null;
}

export interface LatencyGroup {
  context: string;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  count: number;
  /** no response, or a status of 400 or more */
  errors: number;
  bytesIn: number;
  bytesOut: number;
  /** every duration in ms, ascending */
  durations: Float64Array;
}

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

  /**
   * Writes all exchanges in one transaction; returns their ids in order and sets exchange.id.
   * flagsOf (analyze's flagsOf) raises each exchange's per-exchange flag kinds in the same transaction.
   */
  insertMany(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[]): number[] {
    if (exchanges.length === 0) return [];
    const newChains = new Map<string, number>();
    let ids: number[];
    try {
      ids = this.db.transaction(() =>
        exchanges.map((ex) => {
          const id = this.insertOne(ex, newChains);
          if (flagsOf) for (const kind of flagsOf(ex)) this.stmt(INSERT_FLAG_SQL).run(id, kind);
          return id;
        }),
      ).immediate();
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

  /** Replaces every flag of one kind: the exchanges a whole-set rule (slow, retry-storm) implicates now. */
  replaceFlagKind(kind: string, ids: Iterable<number>): void {
    const ins = this.stmt(INSERT_FLAG_SQL);
    this.db.transaction(() => {
      this.stmt("DELETE FROM exchange_flags WHERE kind = ?").run(kind);
      for (const id of ids) ins.run(id, kind);
    }).immediate();
  }

  /** Per flag kind among the matching exchanges: how many, first and last time, and the lowest `examples` ids. */
  flagSummary(filter: ListFilter = {}, examples = 50): FlagSummary[] {
    const where = whereClause({ ...filter, flag: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const kindFilter = filter.flag === undefined ? "" : `${joiner}f.kind = ?`;
    const params = filter.flag === undefined ? where.params : [...where.params, filter.flag];
    const totals = this.stmt(
      `SELECT f.kind AS kind, count(*) AS count, min(e.started_at) AS first, max(e.started_at) AS last
       FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${kindFilter} GROUP BY f.kind`,
    ).all(...params) as Array<{ kind: string; count: number; first: number; last: number }>;
    const idsOf = this.stmt(
      `SELECT f.exchange_id FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${joiner}f.kind = ? ORDER BY f.exchange_id LIMIT ?`,
    ).pluck();
    return totals.map((t) => ({ ...t, ids: idsOf.all(...where.params, t.kind, examples) as number[] }));
  }

  /** The narrow columns of every matching exchange, oldest first: what whole-set analysis reads. */
  summaries(filter: ListFilter = {}): ExchangeSummaryRow[] {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    const rows = this.stmt(
      `SELECT e.id, e.started_at, e.method, e.path, e.query, e.verb, e.resource, e.api_group, e.subresource, e.namespace, e.context,
        e.status, e.duration_ms, e.error_code, e.bytes_out, e.tls_chain_id FROM exchanges e${where.sql}
       ORDER BY e.started_at DESC, e.id DESC${limit === null ? "" : " LIMIT ?"}`,
    ).raw().all(...where.params, ...(limit === null ? [] : [limit])) as unknown[][];
    const out: ExchangeSummaryRow[] = new Array(rows.length);
    for (let i = rows.length - 1, j = 0; i >= 0; i--, j++) {
      const r = rows[i];
      out[j] = {
        id: r[0] as number, startedAt: r[1] as number, method: r[2] as string, path: r[3] as string, query: r[4] as string,
        verb: r[5] as string, resource: r[6] as string, group: r[7] as string, subresource: r[8] as string, namespace: r[9] as string,
        context: r[10] as string, status: r[11] as number | null, durationMs: r[12] as number, errorCode: r[13] as string | null,
        bytesOut: r[14] as number, tlsChainId: r[15] as number | null,
      };
    }
    return out;
  }

  /** The stored chains with these ids. */
  chains(ids: Iterable<number>): Map<number, CertInfo[]> {
    const out = new Map<number, CertInfo[]>();
    for (const id of new Set(ids)) out.set(id, this.chain(id, out));
    return out;
  }

  /**
   * Per context, verb and resource: count, errors (no response, or status >= 400), latencies
   * sorted for percentiles, and bytes. Reads five narrow columns per row in one pass.
   */
  latencyGroups(filter: ListFilter = {}): LatencyGroup[] {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    const source = limit === null ? `exchanges e${where.sql}` : `(SELECT * FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?) e`;
    const stmt = this.stmt(
      `SELECT e.context, e.verb, e.api_group, e.resource, e.subresource, e.status, e.duration_ms, e.bytes_in, e.bytes_out FROM ${source}`,
    ).raw();
    const groups = new Map<string, LatencyGroup & { list: number[] }>();
    for (const r of stmt.iterate(...where.params, ...(limit === null ? [] : [limit])) as IterableIterator<unknown[]>) {
      const key = `${r[0]}\u0000${r[1]}\u0000${r[2]}\u0000${r[3]}\u0000${r[4]}`;
      let g = groups.get(key);
      if (!g) {
        g = { context: r[0] as string, verb: r[1] as string, group: r[2] as string, resource: r[3] as string, subresource: r[4] as string, count: 0, errors: 0, bytesIn: 0, bytesOut: 0, durations: new Float64Array(0), list: [] };
        groups.set(key, g);
      }
      const status = r[5] as number | null;
      g.count++;
      if (status === null || status >= 400) g.errors++;
      g.list.push(r[6] as number);
      g.bytesIn += r[7] as number;
      g.bytesOut += r[8] as number;
    }
    return [...groups.values()].map(({ list, ...g }) => ({ ...g, durations: Float64Array.from(list).sort() }));
  }

  /** The highest exchange id recorded so far (0 when empty). */
  lastId(): number {
    return (this.stmt("SELECT coalesce(max(id), 0) FROM exchanges").pluck().get() as number) ?? 0;
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
