// The analysis queries: whole-set questions over "the matching exchanges" (flag summaries, latency groups and
// percentiles, slow and failed requests, TLS chain use) that analyze's rules and stats ask. Written once over
// an engine's connection; the fragments that differ come from its dialect.
import type { CertInfo, ExchangeSource } from "../types.js";
import { limitOf, whereClause, type ListFilter, type WhereClause } from "./filter.js";
import { CollectionReadsBuilder } from "./collection-reads.js";
import type { ChainUseRow, CollectionKey, ExchangeSummaryRow, FlagSummary, GroupKey, GroupMedian, LatencyGroup, ListsAndWatches, RetryHeaders } from "./recording-store.js";
import type { Dialect, SqlConnection } from "./sql.js";

export interface QueryContext {
  conn: SqlConnection;
  dialect: Dialect;
  chain: (id: number, cache: Map<number, CertInfo[]>) => CertInfo[];
  /** the source a sources.id names (undefined: not known), cached by the store */
  source: (id: number) => ExchangeSource | undefined;
}

const GROUP_COLUMNS = "context, verb, api_group, resource, subresource";
const ERRORS = "sum(CASE WHEN status IS NULL OR status >= 400 THEN 1 ELSE 0 END)";

/** The narrow columns: none from the JSON detail, whose pages are most of the file (retryHeaders reads those). */
const SUMMARY_COLUMNS = `e.id, e.started_at, e.method, e.path, e.query, e.verb, e.resource, e.api_group, e.subresource, e.namespace, e.context,
  e.status, e.duration_ms, e.error_code, e.bytes_out, e.tls_chain_id, e.user_agent`;

/** A header value read from the JSON detail: text, or a JSON array's text for a repeated header. */
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
  };
}

export function flagSummary(q: QueryContext, filter: ListFilter, examples: number): FlagSummary[] {
  const where = scope(q, { ...filter, flag: undefined });
  const joiner = where.sql ? " AND " : " WHERE ";
  const one = filter.flag !== undefined;
  // the flagged rows in id order, so each table page is read once (joined kind by kind, along exchange_flags_kind,
  // they were looked up in id order once per kind)
  const totals = q.conn.rows(
    `SELECT f.kind, sum(e.repeat_count), min(e.started_at), max(coalesce(e.last_seen_at, e.started_at))
     FROM exchanges e JOIN exchange_flags f ON f.exchange_id = e.id${where.sql}${joiner}e.id IN (SELECT exchange_id FROM exchange_flags${one ? " WHERE kind = ?" : ""})${one ? " AND f.kind = ?" : ""}
     GROUP BY f.kind ORDER BY f.kind`,
    one ? [...where.params, filter.flag, filter.flag] : where.params,
  );
  const idsOf = `SELECT f.exchange_id FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${joiner}f.kind = ? ORDER BY f.exchange_id LIMIT ?`;
  return totals.map((t) => ({
    kind: t[0] as string, count: Number(t[1]), first: Number(t[2]), last: Number(t[3]),
    ids: q.conn.column<number>(idsOf, [...where.params, t[0], examples]),
  }));
}

/**
 * Whether the exchanges come from more than one source (the tables then show where each was recorded):
 * answered from both ends of exchanges_source, whatever the size of the recording.
 */
export function severalSources(q: QueryContext): boolean {
  // two subqueries: SQLite reads one end of an index only for a query with a single min() or max()
  const [lo, hi] = q.conn.rows("SELECT (SELECT min(source_id) FROM exchanges), (SELECT max(source_id) FROM exchanges)")[0] as [unknown, unknown];
  return (lo === null ? null : Number(lo)) !== (hi === null ? null : Number(hi));
}

/** Per flag kind among the matching exchanges: the sources they were recorded at (unknown as {}), in id order. */
export function flagSources(q: QueryContext, filter: ListFilter): Map<string, ExchangeSource[]> {
  const where = scope(q, { ...filter, flag: undefined });
  const joiner = where.sql ? " AND " : " WHERE ";
  const kindFilter = filter.flag === undefined ? "" : `${joiner}f.kind = ?`;
  const params = filter.flag === undefined ? where.params : [...where.params, filter.flag];
  const rows = q.conn.rows(
    `SELECT DISTINCT f.kind, e.source_id FROM exchange_flags f JOIN exchanges e ON e.id = f.exchange_id${where.sql}${kindFilter} ORDER BY f.kind, e.source_id`,
    params,
  ) as Array<[string, number]>;
  const out = new Map<string, ExchangeSource[]>();
  for (const [kind, id] of rows) out.set(kind, [...(out.get(kind) ?? []), q.source(Number(id)) ?? {}]);
  return out;
}

/** The distinct sources of these exchanges (unknown as {}), in id order. */
export function sourcesOf(q: QueryContext, ids: number[]): ExchangeSource[] {
  if (ids.length === 0) return [];
  const sourceIds = q.conn.column<number>(`SELECT DISTINCT source_id FROM exchanges WHERE id IN ${q.dialect.idsIn} ORDER BY source_id`, [JSON.stringify(ids)]);
  return sourceIds.map((id) => q.source(Number(id)) ?? {});
}

/**
 * Per context, verb and resource among the matching exchanges: count, errors (no response, or a status of 400
 * or more), bytes, and the latency percentiles asked for (nearest rank, in ms). On SQLite, without filters the
 * exchanges_latency index answers it without reading the table; PostgreSQL takes percentile_disc in the same pass.
 */
export function latencyGroups(q: QueryContext, filter: ListFilter, percentiles: number[]): LatencyGroup[] {
  return grouped(q, filter, percentiles, true).map((g) => ({ ...g.key, count: g.count, errors: g.totals[0], bytesIn: g.totals[1], bytesOut: g.totals[2], percentiles: g.percentiles }));
}

/** Per context, verb and resource among the matching exchanges: count and median latency only (no sums to add up a row). */
export function groupMedians(q: QueryContext, filter: ListFilter): GroupMedian[] {
  return grouped(q, filter, [0.5], false).map((g) => ({ ...g.key, count: g.count, p50Ms: g.percentiles[0] }));
}

function grouped(q: QueryContext, filter: ListFilter, percentiles: number[], totals: boolean): Array<{ key: GroupKey; count: number; totals: number[]; percentiles: number[] }> {
  const { from, params, and } = filtered(q, filter);
  const inline = percentiles.length > 0 ? q.dialect.percentiles(percentiles) : null;
  const sums = totals ? `, ${ERRORS}, sum(bytes_in), sum(bytes_out)` : "";
  const groups = q.conn.rows(
    `SELECT ${GROUP_COLUMNS}, count(*)${sums}${inline ? `, ${inline}` : ""}
     FROM ${from} GROUP BY ${GROUP_COLUMNS} ORDER BY ${GROUP_COLUMNS}`,
    params,
  );
  const inlineAt = totals ? 9 : 6;
  const cond = `${and} context = ? AND verb = ? AND api_group = ? AND resource = ? AND subresource = ?`;
  const up = `SELECT duration_ms FROM ${from}${cond} ORDER BY duration_ms LIMIT 1 OFFSET ?`;
  const down = `SELECT duration_ms FROM ${from}${cond} ORDER BY duration_ms DESC LIMIT 1 OFFSET ?`;
  return groups.map((g) => {
    const count = Number(g[5]);
    const key = g.slice(0, 5);
    const rank = (p: number) => Math.min(count, Math.max(1, Math.ceil(p * count))); // 1-based
    // walk the index from whichever end is nearer
    const at = (p: number) =>
      Number(rank(p) <= count / 2 ? q.conn.value(up, [...params, ...key, rank(p) - 1]) : q.conn.value(down, [...params, ...key, count - rank(p)]));
    return {
      key: { context: g[0] as string, verb: g[1] as string, group: g[2] as string, resource: g[3] as string, subresource: g[4] as string },
      count,
      totals: totals ? [Number(g[6]), Number(g[7]), Number(g[8])] : [],
      percentiles: inline ? (g[inlineAt] as unknown[]).map(Number) : percentiles.map(at),
    };
  });
}

export function slowerThan(q: QueryContext, filter: ListFilter, group: GroupKey, ms: number): ExchangeSummaryRow[] {
  const { from, params, and } = filtered(q, filter);
  const cond = `${and} context = ? AND verb = ? AND api_group = ? AND resource = ? AND subresource = ? AND duration_ms > ?`;
  const ids = q.conn.column<number>(`SELECT id FROM ${from}${cond}`, [...params, group.context, group.verb, group.group, group.resource, group.subresource, ms]);
  return summariesOf(q, ids);
}

/** Joins a collection's columns in SQL: group, resource and namespace are path segments, which hold no control character. */
const KEY_SEPARATOR = "\u0001";
/** Rows a page of listsAndWatches. */
const PAGE = 5_000;

/**
 * Every matching list and watch of a whole collection (no subresource): what relist-storm reads. One pass over
 * the table, numbers and one key text a row (summaryColumns parsed each row's detail: 13 s for the 260,000 lists
 * and watches of 1,000,000 exchanges; eleven columns a row cost twice what these do), kept as columns of numbers
 * (CollectionReads: an object a read cost about 0.25 s, most of it the garbage collector moving them); sorted
 * here, as the started_at index would look up every row.
 */
export function listsAndWatches(q: QueryContext, filter: ListFilter): ListsAndWatches {
  const where = scope(q, filter);
  const joiner = where.sql ? " AND " : " WHERE ";
  const select = `SELECT e.id, e.started_at, e.duration_ms, CASE WHEN e.verb = 'watch' THEN 1 ELSE 0 END,
       e.api_group || ? || e.resource || ? || e.namespace || ? || e.context
     FROM exchanges e${q.dialect.byPrimaryKey}${where.sql}${joiner}e.verb IN ('list', 'watch') AND e.subresource = ''`;
  const params = [KEY_SEPARATOR, KEY_SEPARATOR, KEY_SEPARATOR, ...where.params];
  // Pages along the primary key, so each page's row arrays die young rather than 260,000 at once (the garbage
  // collector's share halves; 5,000 rows a page did better than 20,000 in the CLI); one statement under a limit,
  // whose subquery every page would run again.
  const paged = limitOf(filter) === null;
  const collections: CollectionKey[] = [];
  const index = new Map<string, number>();
  const reads = new CollectionReadsBuilder();
  for (let after = 0; ; ) {
    const rows = paged ? q.conn.rows(`${select} AND e.id > ? ORDER BY e.id LIMIT ${PAGE}`, [...params, after]) : q.conn.rows(select, params);
    for (const r of rows) {
      const key = r[4] as string;
      let of = index.get(key);
      if (of === undefined) {
        const [group, resource, namespace, ...context] = key.split(KEY_SEPARATOR); // the context last: it may hold anything
        of = collections.push({ context: context.join(KEY_SEPARATOR), group, resource, namespace }) - 1;
        index.set(key, of);
      }
      reads.push(Number(r[0]), Number(r[1]), Number(r[2]), Number(r[3]) === 1, of);
    }
    if (!paged || rows.length < PAGE) break;
    after = Number(rows[rows.length - 1][0]);
  }
  return { collections, reads: reads.done() };
}

/**
 * The narrow columns of the matching exchanges that failed (status >= 400 or no response) whose
 * request (context, method, path, query) failed at least minRepeats times, oldest first.
 */
export function failures(q: QueryContext, filter: ListFilter, minRepeats: number): ExchangeSummaryRow[] {
  const where = scope(q, { ...filter, status: undefined });
  const joiner = where.sql ? " AND " : " WHERE ";
  // the failed ids from exchanges_status, then their rows in id order: each table page is read once (with
  // `status >= 400 OR status IS NULL` the rows were looked up in status order, a page again for every row)
  const failed = `${where.sql}${joiner}e.id IN (SELECT id FROM exchanges WHERE status >= 400 UNION ALL SELECT id FROM exchanges WHERE status IS NULL)`;
  const lists = q.conn.column<string>(
    `SELECT ${q.dialect.idList} FROM exchanges e${failed} GROUP BY e.context, e.method, e.path, e.query HAVING count(*) >= ?`,
    [...where.params, minRepeats],
  );
  return summariesOf(q, lists.flatMap((l) => l.split(",").map(Number)));
}

/** How many ids from the lowest chainUses walks by primary key before it takes a chain's index instead. */
const FIRST_IDS_WINDOW = 16_384;

export function chainUses(q: QueryContext, filter: ListFilter, examples: number): ChainUseRow[] {
  const chainIds = q.conn.column<number>("SELECT id FROM tls_chains ORDER BY id");
  const where = scope(q, filter);
  const joiner = where.sql ? " AND " : " WHERE ";
  const last = `SELECT e.started_at, e.context FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.tls_chain_id DESC, e.started_at DESC LIMIT 1`;
  const first = `SELECT e.started_at FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.tls_chain_id, e.started_at LIMIT 1`;
  const count = `SELECT count(*) FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ?`;
  const ids = `SELECT e.id FROM exchanges e${where.sql}${joiner}e.tls_chain_id = ? ORDER BY e.id LIMIT ?`;
  // A chain most exchanges used has its lowest ids among the table's first ones: one window of the primary key
  // answers that (2 ms; along exchanges_chain every use was read and sorted by id, 60 to 140 ms on 1,000,000).
  const firstIds = `SELECT e.id FROM exchanges e${q.dialect.byPrimaryKey}${where.sql}${joiner}e.tls_chain_id = ? AND e.id < ? ORDER BY e.id LIMIT ?`;
  const lowest = chainIds.length ? Number(q.conn.value("SELECT coalesce(min(id), 0) FROM exchanges")) : 0;
  const lowestIds = (id: number): number[] => {
    const found = q.conn.column<number>(firstIds, [...where.params, id, lowest + FIRST_IDS_WINDOW, examples]);
    return found.length >= examples ? found : q.conn.column<number>(ids, [...where.params, id, examples]);
  };
  const out: ChainUseRow[] = [];
  const cache = new Map<number, CertInfo[]>();
  for (const id of chainIds) {
    const l = q.conn.rows(last, [...where.params, id])[0] as [number, string] | undefined;
    if (!l) continue;
    out.push({
      chain: q.chain(id, cache), context: l[1], lastSeen: Number(l[0]),
      firstSeen: Number(q.conn.value(first, [...where.params, id])),
      // counting is the one full pass over a chain's rows: done only for chains a rule asks about
      count: () => Number(q.conn.value(count, [...where.params, id])),
      ids: lowestIds(id),
    });
  }
  return out;
}

/** The Kubectl-Session and Retry-After headers of these exchanges, from their JSON details, by id. */
export function retryHeaders(q: QueryContext, ids: number[]): Map<number, RetryHeaders> {
  const out = new Map<number, RetryHeaders>();
  if (ids.length === 0) return out;
  const d = q.dialect;
  const rows = q.conn.rows(
    `SELECT d.exchange_id, ${d.jsonText("d.detail", ["requestHeaders", "kubectl-session"])}, ${d.jsonText("d.detail", ["response", "headers", "retry-after"])}
     FROM exchange_details d WHERE d.exchange_id IN ${d.idsIn}`,
    [JSON.stringify(ids)],
  );
  for (const r of rows) out.set(Number(r[0]), { session: headerText(r[1]) ?? "", retryAfter: headerText(r[2]) });
  return out;
}

function summariesOf(q: QueryContext, ids: number[]): ExchangeSummaryRow[] {
  if (ids.length === 0) return [];
  const rows = q.conn.rows(`SELECT ${SUMMARY_COLUMNS} FROM exchanges e WHERE e.id IN ${q.dialect.idsIn} ORDER BY e.started_at, e.id`, [JSON.stringify(ids)]);
  return rows.map(summaryRow);
}

/**
 * The WHERE clause (alias e) for the matching exchanges, limit included: with a limit, the newest N
 * of them, as `list` and `count` take it. Every query over "the matching exchanges" goes through here.
 */
function scope(q: QueryContext, filter: ListFilter): WhereClause {
  const where = whereClause(filter, q.dialect);
  const limit = limitOf(filter);
  if (limit === null) return where;
  return {
    sql: ` WHERE e.id IN (SELECT e.id FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?)`,
    params: [...where.params, limit],
  };
}

/** The FROM clause for the matching exchanges, as a subquery only when a limit applies. */
function filtered(q: QueryContext, filter: ListFilter): { from: string; params: unknown[]; and: string } {
  const where = whereClause(filter, q.dialect);
  const limit = limitOf(filter);
  // `and`: how a caller adds a condition after `from` (the subquery's own WHERE is inside its parentheses)
  if (limit === null) return { from: `exchanges e${where.sql}`, params: where.params, and: where.sql ? " AND" : " WHERE" };
  return { from: `(SELECT * FROM exchanges e${where.sql} ORDER BY e.started_at DESC, e.id DESC LIMIT ?) e`, params: [...where.params, limit], and: " WHERE" };
}
