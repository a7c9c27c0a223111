// The recording store written once over an engine's connection and dialect (sql.ts): writes, get, list and
// paging, flags, meta and pruning. The whole-set analysis queries live in analysis.ts.
import { UserError } from "../errors.js";
import type { CertInfo, Exchange, ExchangeSource } from "../types.js";
import * as analysis from "./analysis.js";
import { limitOf, whereClause, type ListFilter, type WhereClause } from "./filter.js";
import type { ChainUseRow, ExchangeSummaryRow, FlagSummary, GroupKey, GroupMedian, LatencyGroup, ListsAndWatches, RecordingStore, RetryHeaders } from "./recording-store.js";
import {
  FLAG_SEPARATOR, SELECT_SOURCE_SQL, sourceFrom, toExchange, toExchangeRow, UNKNOWN_SOURCE_ID, type ExchangeColumns, type ExchangeRow, type SourceColumns,
} from "./rows.js";
import type { Dialect, SqlConnection } from "./sql.js";

const ITERATE_PAGE = 1000;
/** ids pageBefore walks in primary-key order before it judges whether a filter's index would answer sooner */
const PAGE_SCAN_BUDGET = 16_384;
/** ...and the most it walks in all, as the density seen promises, before the index is used instead */
const PAGE_SCAN_MAX = 131_072;
/** below every started_at and id (a bound parameter both engines take as a whole number) */
const BEFORE_ALL = -Number.MAX_SAFE_INTEGER;

/**
 * push's bookkeeping, made by the first push into a recording: which exchange of which pushed recording each
 * row is. Its key makes a second copy impossible, even from two pushes at once.
 */
const PUSHED_TABLE_SQL = `CREATE TABLE IF NOT EXISTS pushed_exchanges (
  recording TEXT NOT NULL, local_id BIGINT NOT NULL, exchange_id BIGINT NOT NULL, PRIMARY KEY (recording, local_id))`;

type FullRow = ExchangeColumns & { detail: string };
type ListRow = ExchangeColumns & { flags: string | null };

export class SqlStore implements RecordingStore {
  private readonly rowColumns: string;
  private readonly q: analysis.QueryContext;
  /** sources.id → the source it names (rows are never changed once written) */
  private readonly sourceRows = new Map<number, ExchangeSource | undefined>();

  constructor(
    readonly path: string,
    readonly engine: Dialect["name"],
    private readonly conn: SqlConnection,
    private readonly dialect: Dialect,
  ) {
    this.rowColumns = `e.*, (SELECT ${dialect.flagList} FROM exchange_flags f WHERE f.exchange_id = e.id) AS flags`;
    this.q = { conn, dialect, chain: (id, cache) => this.chain(id, cache), source: (id) => this.sourceOf(id) };
  }

  insertMany(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[]): number[] {
    if (exchanges.length === 0) return [];
    let ids: number[];
    try {
      ids = this.conn.insertBatch(exchanges, flagsOf);
    } catch (err) {
      this.sourceRows.clear();
      throw err;
    }
    exchanges.forEach((ex, i) => (ex.id = ids[i]));
    return ids;
  }

  transaction<T>(fn: () => T): T {
    try {
      return this.conn.transaction(fn);
    } catch (err) {
      this.sourceRows.clear(); // a source read inside a transaction that rolled back may be gone
      throw err;
    }
  }

  list(filter: ListFilter = {}): ExchangeRow[] {
    const where = this.where(filter);
    const limit = limitOf(filter);
    if (limit === null) {
      return this.conn.all<ListRow>(`SELECT ${this.rowColumns} FROM exchanges e${where.sql} ORDER BY e.started_at, e.id`, where.params).map((r) => this.row(r));
    }
    const rows = this.conn.all<ListRow>(`SELECT ${this.rowColumns} FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?`, [...where.params, limit]);
    return rows.reverse().map((r) => this.row(r));
  }

  /**
   * Walks the primary key backwards in growing id windows, which finds a page of common rows at once whatever
   * the size of the recording; when a filter is so selective that the rows seen in the first PAGE_SCAN_BUDGET ids
   * say the page is far, its indexes answer the rest. The filter's limit is ignored.
   */
  pageBefore(filter: ListFilter, beforeId: number | null, size: number): ExchangeRow[] {
    const where = this.where({ ...filter, limit: undefined });
    const joiner = where.sql ? " AND " : " WHERE ";
    const window = `SELECT ${this.rowColumns} FROM exchanges e${this.dialect.byPrimaryKey}${where.sql}${joiner}e.id >= ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`;
    const out: ListRow[] = [];
    let hi = beforeId ?? this.lastId() + 1;
    let width = 4096;
    let scanned = 0;
    while (out.length < size && hi > 1) {
      // after a first look, keep walking only where the rows seen so far say the page is near
      if (scanned >= PAGE_SCAN_MAX) break;
      if (scanned >= PAGE_SCAN_BUDGET && (out.length === 0 || ((size - out.length) * scanned) / out.length > PAGE_SCAN_MAX - scanned)) break;
      const lo = Math.max(1, hi - width);
      out.push(...this.conn.all<ListRow>(window, [...where.params, lo, hi, size - out.length]));
      scanned += hi - lo;
      hi = lo;
      width = Math.min(width * 4, 65_536);
    }
    if (out.length < size && hi > 1) {
      // the bound must not tempt the planner back into a primary-key scan; ids are sorted, then only their rows read
      const ids = this.conn.column<number>(`SELECT e.id FROM exchanges e${where.sql}${joiner}${this.dialect.idNoIndex} < ? ORDER BY e.id DESC LIMIT ?`, [...where.params, hi, size - out.length]);
      out.push(...this.conn.all<ListRow>(`SELECT ${this.rowColumns} FROM exchanges e WHERE e.id IN ${this.dialect.idsIn} ORDER BY e.id DESC`, [JSON.stringify(ids)]));
    }
    return out.map((r) => this.row(r));
  }

  count(filter: ListFilter = {}): number {
    const where = this.where(filter);
    const n = Number(this.conn.value(`SELECT count(*) FROM exchanges e${where.sql}`, where.params));
    const limit = limitOf(filter);
    return limit === null ? n : Math.min(n, limit);
  }

  get(id: number): Exchange | null {
    const row = this.conn.all<FullRow>("SELECT e.*, d.detail FROM exchanges e JOIN exchange_details d ON d.exchange_id = e.id WHERE e.id = ?", [id])[0];
    if (!row) return null;
    return toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, new Map()), this.sourceOf(row.source_id));
  }

  /**
   * Pages of 1000, so millions of rows stream in bounded memory and the connection stays free between
   * pages (setFlags may be called while iterating). Exchanges on one connection share one (read-only) chain array.
   */
  iterate(filter: ListFilter = {}): IterableIterator<Exchange> {
    const where = this.where(filter); // checked now, not at the first next()
    return this.pages(where, limitOf(filter));
  }

  private *pages(where: WhereClause, limit: number | null): IterableIterator<Exchange> {
    if (limit === 0) return;
    let remaining = limit ?? Infinity;
    let cursor: [number, number] = [BEFORE_ALL, BEFORE_ALL];
    if (limit !== null) {
      // Start at the oldest of the newest N, so that only N rows are read.
      const first = this.conn.rows(`SELECT e.started_at, e.id FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT 1 OFFSET ?`, [...where.params, limit - 1])[0] as
        | [number, number]
        | undefined;
      if (first) cursor = [first[0], first[1] - 1]; // ids are whole numbers: includes `first` itself
    }
    const joiner = where.sql ? " AND " : " WHERE ";
    const page = `SELECT e.*, d.detail FROM exchanges e JOIN exchange_details d ON d.exchange_id = e.id${where.sql}${joiner}(e.started_at, e.id) > (?, ?) ORDER BY e.started_at, e.id LIMIT ?`;
    const chains = new Map<number, CertInfo[]>();
    while (remaining > 0) {
      const rows = this.conn.all<FullRow>(page, [...where.params, cursor[0], cursor[1], Math.min(ITERATE_PAGE, remaining)]);
      for (const row of rows) {
        yield toExchange(row, row.detail, row.tls_chain_id === null ? null : this.chain(row.tls_chain_id, chains), this.sourceOf(row.source_id));
      }
      if (rows.length < ITERATE_PAGE) return;
      const last = rows[rows.length - 1]!;
      cursor = [last.started_at, last.id];
      remaining -= rows.length;
    }
  }

  setFlags(id: number, kinds: string[]): void {
    this.setFlagsMany([[id, kinds]]);
  }

  /** setFlags for many exchanges in one transaction (what an analyzer pass over a large recording wants). */
  setFlagsMany(entries: Iterable<[number, string[]]>): void {
    this.conn.transaction(() => {
      for (const [id, kinds] of entries) {
        for (const kind of kinds) {
          if (typeof kind !== "string" || kind === "" || kind.includes(FLAG_SEPARATOR)) {
            throw new UserError(`flag kind ${JSON.stringify(kind)} must be non-empty text`);
          }
        }
        this.conn.run("DELETE FROM exchange_flags WHERE exchange_id = ?", [id]);
        if (kinds.length > 0) this.insertFlags(kinds.map((kind) => [id, kind]));
      }
    });
  }

  /**
   * Replaces every flag of one kind: the exchanges a whole-set rule (slow, retry-storm) implicates now. Writes
   * only the difference from what is stored, so a second `flags` over an unchanged recording writes nothing.
   */
  replaceFlagKind(kind: string, ids: Iterable<number>): void {
    this.conn.transaction(() => {
      const wanted = new Set<number>();
      for (const id of ids) wanted.add(Number(id));
      const stale: number[] = [];
      for (const id of this.conn.column<number>("SELECT exchange_id FROM exchange_flags WHERE kind = ?", [kind])) {
        if (!wanted.delete(Number(id))) stale.push(Number(id));
      }
      if (stale.length > 0) this.conn.run(`DELETE FROM exchange_flags WHERE kind = ? AND exchange_id IN ${this.dialect.idsIn}`, [kind, JSON.stringify(stale)]);
      let pairs: [number, string][] = [];
      for (const id of wanted) {
        pairs.push([id, kind]);
        if (pairs.length === 500) {
          this.insertFlags(pairs);
          pairs = [];
        }
      }
      if (pairs.length > 0) this.insertFlags(pairs);
    });
  }

  /** One multi-row INSERT of (exchange_id, kind) pairs; duplicates are ignored. */
  private insertFlags(pairs: [number, string][]): void {
    const values = pairs.map(() => "(?, ?)").join(", ");
    this.conn.run(`INSERT INTO exchange_flags (exchange_id, kind) VALUES ${values} ON CONFLICT DO NOTHING`, pairs.flat());
  }

  flagSummary(filter: ListFilter = {}, examples = 50): FlagSummary[] {
    return analysis.flagSummary(this.q, filter, examples);
  }

  severalSources(): boolean {
    return analysis.severalSources(this.q);
  }

  flagSources(filter: ListFilter = {}): Map<string, ExchangeSource[]> {
    return analysis.flagSources(this.q, filter);
  }

  sourcesOf(ids: number[]): ExchangeSource[] {
    return analysis.sourcesOf(this.q, ids);
  }

  latencyGroups(filter: ListFilter = {}, percentiles: number[] = [0.5, 0.9, 0.99, 1]): LatencyGroup[] {
    return analysis.latencyGroups(this.q, filter, percentiles);
  }

  groupMedians(filter: ListFilter = {}): GroupMedian[] {
    return analysis.groupMedians(this.q, filter);
  }

  slowerThan(filter: ListFilter, group: GroupKey, ms: number): ExchangeSummaryRow[] {
    return analysis.slowerThan(this.q, filter, group, ms);
  }

  listsAndWatches(filter: ListFilter = {}): ListsAndWatches {
    return analysis.listsAndWatches(this.q, filter);
  }

  failures(filter: ListFilter = {}, minRepeats = 1): ExchangeSummaryRow[] {
    return analysis.failures(this.q, filter, minRepeats);
  }

  retryHeaders(ids: number[]): Map<number, RetryHeaders> {
    return analysis.retryHeaders(this.q, ids);
  }

  chainUses(filter: ListFilter = {}, examples = 50): ChainUseRow[] {
    return analysis.chainUses(this.q, filter, examples);
  }

  lastId(): number {
    return Number(this.conn.value("SELECT coalesce(max(id), 0) FROM exchanges") ?? 0);
  }

  meta(key: string): string | null {
    return this.conn.value<string>("SELECT value FROM meta WHERE key = ?", [key]) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.conn.run("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
  }

  deleteMeta(key: string): void {
    this.conn.run("DELETE FROM meta WHERE key = ?", [key]);
  }

  usedBytes(): number {
    return this.conn.usedBytes();
  }

  pushedIds(recording: string, localIds: number[]): Map<number, number> {
    if (localIds.length === 0 || !this.hasPushTable()) return new Map();
    const rows = this.conn.rows(`SELECT local_id, exchange_id FROM pushed_exchanges WHERE recording = ? AND local_id IN ${this.dialect.idsIn}`, [recording, JSON.stringify(localIds)]);
    return new Map(rows.map((r) => [Number(r[0]), Number(r[1])]));
  }

  markPushed(recording: string, pairs: Array<[number, number]>): void {
    if (pairs.length === 0) return;
    this.conn.run(PUSHED_TABLE_SQL);
    for (let i = 0; i < pairs.length; i += 500) {
      const part = pairs.slice(i, i + 500);
      this.conn.run(`INSERT INTO pushed_exchanges (recording, local_id, exchange_id) VALUES ${part.map(() => "(?, ?, ?)").join(", ")}`, part.flatMap(([l, r]) => [recording, l, r]));
    }
  }

  private hasPushTable(): boolean {
    const sql = this.engine === "sqlite" ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pushed_exchanges'" : "SELECT to_regclass('pushed_exchanges')::text";
    const v = this.conn.value(sql);
    return v !== undefined && v !== null;
  }

  /**
   * Deletes the oldest exchanges (details and flags with them), a batch at a time, until the pages in use fit
   * maxBytes. Freed pages are reused, so the file stops growing. SQLite only: PostgreSQL frees space at VACUUM.
   */
  pruneToSize(maxBytes: number, maxBatch = 500): number {
    if (this.engine !== "sqlite") throw new UserError(`--max-db-size bounds a SQLite recording; ${this.path} is PostgreSQL, whose size its owner manages`);
    let removed = 0;
    for (let used = this.usedBytes(); used > maxBytes; used = this.usedBytes()) {
      const count = this.count({});
      if (count === 0) break;
      // about as many as the excess holds at the average size, so a prune takes a few rounds, not one per row
      const n = Math.min(maxBatch, count, Math.max(1, Math.ceil(((used - maxBytes) / used) * count)));
      const sub = "SELECT id FROM exchanges ORDER BY started_at, id LIMIT ?";
      this.transaction(() => {
        this.conn.run(`DELETE FROM exchange_flags WHERE exchange_id IN (${sub})`, [n]);
        this.conn.run(`DELETE FROM exchange_details WHERE exchange_id IN (${sub})`, [n]);
        this.conn.run(`DELETE FROM exchanges WHERE id IN (${sub})`, [n]);
      });
      removed += n;
    }
    return removed;
  }

  close(): void {
    this.conn.close();
  }

  private where(filter: ListFilter): WhereClause {
    return whereClause(filter, this.dialect);
  }

  /** The source a sources.id names; undefined when nothing of it is known. */
  private sourceOf(id: number): ExchangeSource | undefined {
    id = Number(id);
    if (id === UNKNOWN_SOURCE_ID) return undefined;
    if (!this.sourceRows.has(id)) this.sourceRows.set(id, sourceFrom(this.conn.all<SourceColumns>(SELECT_SOURCE_SQL, [id])[0]));
    return this.sourceRows.get(id);
  }

  private row(c: ListRow): ExchangeRow {
    return toExchangeRow(c, this.sourceOf(c.source_id));
  }

  private chain(id: number, cache: Map<number, CertInfo[]>): CertInfo[] {
    let chain = cache.get(id);
    if (!chain) {
      const text = this.conn.value<string>("SELECT chain FROM tls_chains WHERE id = ?", [id]);
      chain = text ? (JSON.parse(text) as CertInfo[]) : [];
      cache.set(id, chain);
    }
    return chain;
  }
}
