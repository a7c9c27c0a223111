// The recording store: writes exchanges in transactions and answers filtered queries over
// them (list, count, get, streaming iterate, flags, meta). The only user of better-sqlite3.
import { resolve } from "node:path";
import type Database from "better-sqlite3";
import { UserError } from "../errors.js";
import type { CertInfo, Exchange, ExchangeSource } from "../types.js";
import { limitOf, whereClause, type ListFilter, type WhereClause } from "./filter.js";
import { openDatabase, type OpenOptions } from "./open.js";
import {
  aggregateParams, chainFingerprint, detailJson, exchangeParams, FIND_AGGREGATE_SQL, FLAG_SEPARATOR, INSERT_CHAIN_SQL, INSERT_DETAIL_SQL,
  INSERT_EXCHANGE_SQL, INSERT_SOURCE_SQL, MERGE_AGGREGATE_SQL, SELECT_CHAIN_ID_SQL, SELECT_SOURCE_ID_SQL, SELECT_SOURCE_SQL, SET_AGGREGATE_SQL,
  sourceFrom, sourceParams, toExchange, toExchangeRow, UNKNOWN_SOURCE_ID, type ExchangeColumns, type ExchangeRow, type SourceColumns,
} from "./rows.js";

export type { ListFilter } from "./filter.js";
export type { SourceSelector } from "./source-selector.js";
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
  userAgent: string;
  /** the client's per-run id (kubectl's Kubectl-Session header), "" when it sent none */
  session: string;
  /** the response's Retry-After header, null when absent */
  retryAfter: string | null;
}

const GROUP_COLUMNS = "context, verb, api_group, resource, subresource";
const SUMMARY_COLUMNS = `e.id, e.started_at, e.method, e.path, e.query, e.verb, e.resource, e.api_group, e.subresource, e.namespace, e.context,
  e.status, e.duration_ms, e.error_code, e.bytes_out, e.tls_chain_id, e.user_agent,
  (SELECT json_extract(d.detail, '$.requestHeaders."kubectl-session"') FROM exchange_details d WHERE d.exchange_id = e.id),
  (SELECT json_extract(d.detail, '$.response.headers."retry-after"') FROM exchange_details d WHERE d.exchange_id = e.id)`;

/** A header value read with json_extract: text, or a JSON array's text for a repeated header. */
function headerText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const text = String(v);
  if (!text.startsWith("[")) return text;
  try {
    const list = JSON.parse(text) as unknown[];
    return list.length ? String(list[0]) : null;
  } catch {
    return text;
  }
}

function summaryRow(r: unknown[]): ExchangeSummaryRow {
  return {
    id: r[0] as number, startedAt: r[1] as number, method: r[2] as string, path: r[3] as string, query: r[4] as string,
    verb: r[5] as string, resource: r[6] as string, group: r[7] as string, subresource: r[8] as string, namespace: r[9] as string,
    context: r[10] as string, status: r[11] as number | null, durationMs: r[12] as number, errorCode: r[13] as string | null,
    bytesOut: r[14] as number, tlsChainId: r[15] as number | null, userAgent: r[16] as string,
    session: headerText(r[17]) ?? "", retryAfter: headerText(r[18]),
  };
}

export interface GroupKey {
  context: string;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
}

export interface ChainUseRow {
  chain: CertInfo[];
  context: string;
  firstSeen: number;
  lastSeen: number;
  count: () => number;
  ids: number[];
}

export interface LatencyGroup extends GroupKey {
  count: number;
  /** no response, or a status of 400 or more */
  errors: number;
  bytesIn: number;
  bytesOut: number;
  /** the latencies at the percentiles asked for, in ms */
  percentiles: number[];
}

const ROW_COLUMNS = `e.*, (SELECT group_concat(f.kind, char(31)) FROM exchange_flags f WHERE f.exchange_id = e.id) AS flags`;
const FULL_FROM = `FROM exchanges e JOIN exchange_details d ON d.exchange_id = e.id`;
const ITERATE_PAGE = 1000;
const MAX_CACHED_STATEMENTS = 256;
/** ids pageBefore walks in primary-key order before it judges whether a filter's index would answer sooner */
const PAGE_SCAN_BUDGET = 16_384;
/** ...and the most it walks in all, as the density seen promises, before the index is used instead */
const PAGE_SCAN_MAX = 131_072;

type FullRow = ExchangeColumns & { detail: string };

export class Store {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  /** chain fingerprint → tls_chains.id, for chains known to be committed */
  private readonly chainIds = new Map<string, number>();
  /** sourceParams joined → sources.id, for sources known to be committed */
  private readonly sourceIds = new Map<string, number>();
  /** sources.id → the source it names (rows are never changed once written) */
  private readonly sourceRows = new Map<number, ExchangeSource | undefined>();

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
    const newSources = new Map<string, number>();
    let ids: number[];
    try {
      ids = this.db.transaction(() =>
        exchanges.map((ex) => {
          const id = this.insertOne(ex, newChains, newSources);
          if (flagsOf) for (const kind of flagsOf(ex)) this.stmt(INSERT_FLAG_SQL).run(id, kind);
          return id;
        }),
      ).immediate();
    } catch (err) {
      this.chainIds.clear();
      this.sourceIds.clear();
      this.sourceRows.clear();
      throw err;
    }
    exchanges.forEach((ex, i) => (ex.id = ids[i]));
    for (const [fp, id] of newChains) this.chainIds.set(fp, id);
    for (const [key, id] of newSources) this.sourceIds.set(key, id);
    return ids;
  }

  /** Runs fn in one transaction (nested calls such as insertMany become savepoints). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      this.chainIds.clear();
      this.sourceIds.clear();
      this.sourceRows.clear();
      throw err;
    }
  }

  /** Matching exchanges, oldest first (by start time, then id); with limit, the newest N. */
  list(filter: ListFilter = {}): ExchangeRow[] {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    if (limit === null) {
      const rows = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e${where.sql} ORDER BY e.started_at, e.id`).all(...where.params);
      return (rows as (ExchangeColumns & { flags: string | null })[]).map((r) => this.row(r));
    }
    const rows = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?`)
      .all(...where.params, limit) as (ExchangeColumns & { flags: string | null })[];
    return rows.reverse().map((r) => this.row(r));
  }

  /**
   * One page of the matching exchanges, newest first by id, below beforeId when given (keyset
   * paging for the web view). It walks the primary key backwards in growing id windows, which
   * finds a page of common rows at once whatever the size of the recording; when a filter is so
   * selective that the rows seen in the first PAGE_SCAN_BUDGET ids say the page is far, its indexes answer the rest.
   * The filter's limit is ignored.
   */
  pageBefore(filter: ListFilter, beforeId: number | null, size: number): ExchangeRow[] {
    const where = whereClause({ ...filter, limit: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const window = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e NOT INDEXED${where.sql}${joiner}e.id >= ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`);
    const out: (ExchangeColumns & { flags: string | null })[] = [];
    let hi = beforeId ?? this.lastId() + 1;
    let width = 4096;
    let scanned = 0;
    while (out.length < size && hi > 1) {
      // after a first look, keep walking only where the rows seen so far say the page is near
      if (scanned >= PAGE_SCAN_MAX) break;
      if (scanned >= PAGE_SCAN_BUDGET && (out.length === 0 || ((size - out.length) * scanned) / out.length > PAGE_SCAN_MAX - scanned)) break;
      const lo = Math.max(1, hi - width);
      out.push(...(window.all(...where.params, lo, hi, size - out.length) as typeof out));
      scanned += hi - lo;
      hi = lo;
      width = Math.min(width * 4, 65_536);
    }
    if (out.length < size && hi > 1) {
      // +e.id: the bound must not tempt the planner back into a primary-key scan; ids are sorted, then only their rows read
      const ids = this.stmt(`SELECT e.id FROM exchanges e${where.sql}${joiner}+e.id < ? ORDER BY e.id DESC LIMIT ?`).pluck().all(...where.params, hi, size - out.length);
      const rest = this.stmt(`SELECT ${ROW_COLUMNS} FROM exchanges e WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.id DESC`);
      out.push(...(rest.all(JSON.stringify(ids)) as typeof out));
    }
    return out.map((r) => this.row(r));
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
    return toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, new Map()), this.sourceOf(row.source_id));
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
        yield toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, chains), this.sourceOf(row.source_id));
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

  /** Per flag kind among the matching exchanges: how many requests (an aggregated row counts all it stands for), first and last time, and the lowest `examples` ids. */
  flagSummary(filter: ListFilter = {}, examples = 50): FlagSummary[] {
    const where = this.scope({ ...filter, flag: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const kindFilter = filter.flag === undefined ? "" : `${joiner}f.kind = ?`;
    const params = filter.flag === undefined ? where.params : [...where.params, filter.flag];
    const totals = this.stmt(
      `SELECT f.kind AS kind, sum(e.repeat_count) AS count, min(e.started_at) AS first, max(coalesce(e.last_seen_at, e.started_at)) AS last
       FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${kindFilter} GROUP BY f.kind`,
    ).all(...params) as Array<{ kind: string; count: number; first: number; last: number }>;
    const idsOf = this.stmt(
      `SELECT f.exchange_id FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${joiner}f.kind = ? ORDER BY f.exchange_id LIMIT ?`,
    ).pluck();
    return totals.map((t) => ({ ...t, ids: idsOf.all(...where.params, t.kind, examples) as number[] }));
  }

  /**
   * Whether the exchanges come from more than one source (the tables then show where each was
   * recorded): answered from both ends of exchanges_source, whatever the size of the recording.
   */
  severalSources(): boolean {
    // two subqueries: SQLite reads one end of an index only for a query with a single min() or max()
    const [lo, hi] = this.stmt("SELECT (SELECT min(source_id) FROM exchanges), (SELECT max(source_id) FROM exchanges)").raw().get() as [number | null, number | null];
    return lo !== hi;
  }

  /** Per flag kind among the matching exchanges: the sources they were recorded at (unknown as {}), in id order. */
  flagSources(filter: ListFilter = {}): Map<string, ExchangeSource[]> {
    const where = this.scope({ ...filter, flag: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const kindFilter = filter.flag === undefined ? "" : `${joiner}f.kind = ?`;
    const params = filter.flag === undefined ? where.params : [...where.params, filter.flag];
    const rows = this.stmt(
      `SELECT DISTINCT f.kind, e.source_id FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${kindFilter} ORDER BY f.kind, e.source_id`,
    ).raw().all(...params) as Array<[string, number]>;
    const out = new Map<string, ExchangeSource[]>();
    for (const [kind, id] of rows) out.set(kind, [...(out.get(kind) ?? []), this.sourceOf(id) ?? {}]);
    return out;
  }

  /** The distinct sources of these exchanges (unknown as {}), in id order. */
  sourcesOf(ids: number[]): ExchangeSource[] {
    if (ids.length === 0) return [];
    const sourceIds = this.stmt("SELECT DISTINCT source_id FROM exchanges WHERE id IN (SELECT value FROM json_each(?)) ORDER BY source_id")
      .pluck().all(JSON.stringify(ids)) as number[];
    return sourceIds.map((id) => this.sourceOf(id) ?? {});
  }

  /**
   * Per context, verb and resource among the matching exchanges: count, errors (no response, or a
   * status of 400 or more), bytes, and the latency percentiles asked for (nearest rank, in ms).
   * Without filters the exchanges_latency index answers it without reading the table.
   */
  latencyGroups(filter: ListFilter = {}, percentiles: number[] = [0.5, 0.9, 0.99, 1]): LatencyGroup[] {
    const { from, params, and } = this.filtered(filter);
    const groups = this.stmt(
      `SELECT ${GROUP_COLUMNS}, count(*), sum(status IS NULL OR status >= 400), sum(bytes_in), sum(bytes_out) FROM ${from} GROUP BY ${GROUP_COLUMNS}`,
    ).raw().all(...params) as unknown[][];
    const cond = `${and} context = ? AND verb = ? AND api_group = ? AND resource = ? AND subresource = ?`;
    const up = this.stmt(`SELECT duration_ms FROM ${from}${cond} ORDER BY duration_ms LIMIT 1 OFFSET ?`).pluck();
    const down = this.stmt(`SELECT duration_ms FROM ${from}${cond} ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`).pluck();
    return groups.map((g) => {
      const count = g[5] as number;
      const key = g.slice(0, 5);
      const rank = (p: number) => Math.min(count, Math.max(1, Math.ceil(p * count))); // 1-based
      // walk the index from whichever end is nearer
      const at = (p: number) => (rank(p) <= count / 2 ? up.get(...params, ...key, rank(p) - 1) : down.get(...params, ...key, count - rank(p))) as number;
      return {
        context: g[0] as string, verb: g[1] as string, group: g[2] as string, resource: g[3] as string, subresource: g[4] as string,
        count, errors: g[6] as number, bytesIn: g[7] as number, bytesOut: g[8] as number,
        percentiles: percentiles.map(at),
      };
    });
  }

  /** The narrow columns of the matching exchanges of one group that took longer than ms, oldest first. */
  slowerThan(filter: ListFilter, group: GroupKey, ms: number): ExchangeSummaryRow[] {
    const { from, params, and } = this.filtered(filter);
    const cond = `${and} context = ? AND verb = ? AND api_group = ? AND resource = ? AND subresource = ? AND duration_ms > ?`;
    const ids = this.stmt(`SELECT id FROM ${from}${cond}`).pluck().all(...params, group.context, group.verb, group.group, group.resource, group.subresource, ms) as number[];
    return this.summariesOf(ids);
  }

  /**
   * The narrow columns of the matching exchanges that failed (status >= 400 or no response) whose
   * request (context, method, path, query) failed at least minRepeats times, oldest first.
   */
  failures(filter: ListFilter = {}, minRepeats = 1): ExchangeSummaryRow[] {
    const where = this.scope({ ...filter, status: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const failed = `${where.sql}${joiner}(e.status >= 400 OR e.status IS NULL)`;
    const lists = this.stmt(
      `SELECT group_concat(e.id) FROM exchanges e${failed} GROUP BY e.context, e.method, e.path, e.query HAVING count(*) >= ?`,
    ).pluck().all(...where.params, minRepeats) as string[];
    return this.summariesOf(lists.flatMap((l) => l.split(",").map(Number)));
  }

  /** Each TLS chain used by the matching exchanges: its certificates, last context, count, first/last use and lowest ids. */
  chainUses(filter: ListFilter = {}, examples = 50): ChainUseRow[] {
    const chainIds = this.stmt("SELECT id FROM tls_chains").pluck().all() as number[];
    const where = this.scope(filter);
    const joiner = where.sql ? " AND " : " WHERE ";
    const last = this.stmt(`SELECT e.started_at, e.context FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.tls_chain_id DESC, e.started_at DESC LIMIT 1`).raw();
    const first = this.stmt(`SELECT e.started_at FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.tls_chain_id, e.started_at LIMIT 1`).pluck();
    const count = this.stmt(`SELECT count(*) FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ?`).pluck();
    const ids = this.stmt(`SELECT e.id FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.id LIMIT ?`).pluck();
    const out: ChainUseRow[] = [];
    const cache = new Map<number, CertInfo[]>();
    for (const id of chainIds) {
      const l = last.get(...where.params, id) as [number, string] | undefined;
      if (!l) continue;
      out.push({
        chain: this.chain(id, cache), context: l[1], lastSeen: l[0],
        firstSeen: first.get(...where.params, id) as number,
        // counting is the one full pass over a chain's rows: done only for chains a rule asks about
        count: () => count.get(...where.params, id) as number,
        ids: ids.all(...where.params, id, examples) as number[],
      });
    }
    return out;
  }

  private summariesOf(ids: number[]): ExchangeSummaryRow[] {
    if (ids.length === 0) return [];
    const rows = this.stmt(`SELECT ${SUMMARY_COLUMNS} FROM exchanges e WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.started_at, e.id`)
      .raw().all(JSON.stringify(ids)) as unknown[][];
    return rows.map(summaryRow);
  }

  /**
   * The WHERE clause (alias e) for the matching exchanges, limit included: with a limit, the newest N
   * of them, as `list` and `count` take it. Every query over "the matching exchanges" goes through here.
   */
  private scope(filter: ListFilter): WhereClause {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    if (limit === null) return where;
    return {
      sql: ` WHERE e.id IN (SELECT e.id FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?)`,
      params: [...where.params, limit],
    };
  }

  /** The FROM clause for the matching exchanges, as a subquery only when a limit applies. */
  private filtered(filter: ListFilter): { from: string; params: unknown[]; and: string } {
    const where = whereClause(filter);
    const limit = limitOf(filter);
    // `and`: how a caller adds a condition after `from` (the subquery's own WHERE is inside its parentheses)
    if (limit === null) return { from: `exchanges e${where.sql}`, params: where.params, and: where.sql ? " AND" : " WHERE" };
    return { from: `(SELECT * FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?)`, params: [...where.params, limit], and: " WHERE" };
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

  deleteMeta(key: string): void {
    this.stmt("DELETE FROM meta WHERE key = ?").run(key);
  }

  /** The bytes of the database pages in use (the file keeps freed pages and reuses them). */
  usedBytes(): number {
    const pageSize = this.db.pragma("page_size", { simple: true }) as number;
    const pages = this.db.pragma("page_count", { simple: true }) as number;
    const free = this.db.pragma("freelist_count", { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * --max-db-size: deletes the oldest exchanges (details and flags with them), a batch at a time,
   * until the pages in use fit maxBytes; returns how many went. Freed pages are reused, so the file stops growing.
   */
  pruneToSize(maxBytes: number, maxBatch = 500): number {
    let removed = 0;
    for (let used = this.usedBytes(); used > maxBytes; used = this.usedBytes()) {
      const count = this.count({});
      if (count === 0) break;
      // about as many as the excess holds at the average size, so a prune takes a few rounds, not one per row
      const n = Math.min(maxBatch, count, Math.max(1, Math.ceil(((used - maxBytes) / used) * count)));
      const sub = "SELECT id FROM exchanges ORDER BY started_at, id LIMIT ?";
      this.transaction(() => {
        this.stmt(`DELETE FROM exchange_flags WHERE exchange_id IN (${sub})`).run(n);
        this.stmt(`DELETE FROM exchange_details WHERE exchange_id IN (${sub})`).run(n);
        this.stmt(`DELETE FROM exchanges WHERE id IN (${sub})`).run(n);
      });
      removed += n;
    }
    return removed;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private insertOne(ex: Exchange, newChains: Map<string, number>, newSources: Map<string, number>): number {
    const sourceId = this.sourceIdFor(ex, newSources);
    const aggregate = aggregateParams(ex);
    if (aggregate) {
      const existing = this.stmt(FIND_AGGREGATE_SQL).pluck().get(...aggregate[0], sourceId) as number | undefined;
      if (existing !== undefined) {
        this.stmt(MERGE_AGGREGATE_SQL).run(...aggregate[1], existing);
        return existing;
      }
    }
    const chain = ex.tls?.chain;
    const chainId = chain && chain.length > 0 ? this.chainIdFor(chain, newChains) : null;
    const id = Number(this.stmt(INSERT_EXCHANGE_SQL).run(...exchangeParams(ex, chainId, sourceId)).lastInsertRowid);
    this.stmt(INSERT_DETAIL_SQL).run(id, detailJson(ex));
    if (aggregate) this.stmt(SET_AGGREGATE_SQL).run(aggregate[1][0], aggregate[1][2], id);
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

  private sourceIdFor(ex: Exchange, newSources: Map<string, number>): number {
    const params = sourceParams(ex);
    if (!params) return UNKNOWN_SOURCE_ID;
    const key = JSON.stringify(params);
    const known = this.sourceIds.get(key) ?? newSources.get(key);
    if (known !== undefined) return known;
    this.stmt(INSERT_SOURCE_SQL).run(...params);
    const id = this.stmt(SELECT_SOURCE_ID_SQL).pluck().get(...params) as number;
    newSources.set(key, id);
    return id;
  }

  /** The source a sources.id names; undefined when nothing of it is known. */
  private sourceOf(id: number): ExchangeSource | undefined {
    if (id === UNKNOWN_SOURCE_ID) return undefined;
    if (!this.sourceRows.has(id)) this.sourceRows.set(id, sourceFrom(this.stmt(SELECT_SOURCE_SQL).get(id) as SourceColumns | undefined));
    return this.sourceRows.get(id);
  }

  private row(c: ExchangeColumns & { flags: string | null }): ExchangeRow {
    return toExchangeRow(c, this.sourceOf(c.source_id));
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
