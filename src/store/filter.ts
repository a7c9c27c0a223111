// ListFilter: the combinable criteria of `ls`, `count` and `iterate`, checked and
// turned into one SQL WHERE clause whose values are always bound parameters.
import { UserError } from "../errors.js";
import { sourceCondition, type SourceSelector } from "./source-selector.js";
import type { Dialect } from "./sql.js";

export interface ListFilter {
  /**
   * a status code, a class, or "error" for exchanges that got no response at all; a code or class
   * also matches a watch that ended with an ERROR event carrying that Status code (410 Expired)
   */
  status?: number | "1xx" | "2xx" | "3xx" | "4xx" | "5xx" | "error";
  verb?: string;
  resource?: string;
  group?: string;
  /** the API version (v1, v1beta1), when the resource was given as kubectl's RESOURCE.VERSION.GROUP */
  version?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** epoch ms, inclusive */
  since?: number;
  /** epoch ms, inclusive */
  until?: number;
  slowerThanMs?: number;
  pathContains?: string;
  context?: string;
  /** proxy, replay, doctor or import; several: any of them */
  origin?: string | string[];
  /** exchanges carrying this flag kind */
  flag?: string;
  /** where they were recorded (see source-selector.ts for the `--source` grammar) */
  source?: SourceSelector;
  ids?: number[];
  /** newest N (still returned oldest first) */
  limit?: number;
  /** rows with id > afterId, for tail/follow */
  afterId?: number;
}

export interface WhereClause {
  /** "" or " WHERE ..." over the alias e (exchanges) */
  sql: string;
  params: unknown[];
}

const EQUALITY: [keyof ListFilter, string][] = [
  ["verb", "e.verb"],
  ["resource", "e.resource"],
  ["group", "e.api_group"],
  ["version", "e.api_version"],
  ["subresource", "e.subresource"],
  ["namespace", "e.namespace"],
  ["name", "e.name"],
  ["context", "e.context"],
];

/** The WHERE clause for everything in the filter except limit (which the caller applies). */
export function whereClause(filter: ListFilter, dialect: Pick<Dialect, "contains" | "idsIn">): WhereClause {
  const conds: string[] = [];
  const params: unknown[] = [];
  const { status } = filter;
  if (status !== undefined) {
    if (status === "error") conds.push("e.status IS NULL");
    else if (typeof status === "string" && /^[1-5]xx$/.test(status)) {
      const base = Number(status[0]) * 100;
      conds.push("(e.status BETWEEN ? AND ? OR e.watch_error_code BETWEEN ? AND ?)");
      params.push(base, base + 99, base, base + 99);
    } else if (typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 999) {
      conds.push("(e.status = ? OR e.watch_error_code = ?)");
      params.push(status, status);
    } else {
      throw new UserError(`status filter ${JSON.stringify(status)} is not a status code, a class (1xx to 5xx) or error`);
    }
  }
  if (filter.origin !== undefined) {
    const origins = ([] as string[]).concat(filter.origin);
    conds.push(`e.origin IN (${origins.map(() => "?").join(", ")})`);
    params.push(...origins);
  }
  for (const [key, column] of EQUALITY) {
    const value = filter[key];
    if (value === undefined) continue;
    if (typeof value !== "string") throw new UserError(`${key} filter must be text, got ${JSON.stringify(value)}`);
    conds.push(`${column} = ?`);
    params.push(value);
  }
  if (filter.since !== undefined) {
    conds.push("e.started_at >= ?");
    params.push(finite("since", filter.since));
  }
  if (filter.until !== undefined) {
    conds.push("e.started_at <= ?");
    params.push(finite("until", filter.until));
  }
  if (filter.slowerThanMs !== undefined) {
    conds.push("e.duration_ms > ?");
    params.push(finite("slowerThanMs", filter.slowerThanMs));
  }
  if (filter.pathContains !== undefined) {
    conds.push(dialect.contains("e.path"));
    params.push(String(filter.pathContains));
  }
  if (filter.source !== undefined) {
    const cond = sourceCondition(filter.source);
    conds.push(cond.sql);
    params.push(...cond.params);
  }
  if (filter.flag !== undefined) {
    conds.push("e.id IN (SELECT f.exchange_id FROM exchange_flags f WHERE f.kind = ?)");
    params.push(String(filter.flag));
  }
  if (filter.ids !== undefined) {
    for (const id of filter.ids) if (!Number.isSafeInteger(id)) throw new UserError(`exchange id ${shown(id)} is not a whole number`);
    conds.push(`e.id IN ${dialect.idsIn}`);
    params.push(JSON.stringify(filter.ids));
  }
  if (filter.afterId !== undefined) {
    conds.push("e.id > ?");
    params.push(finite("afterId", filter.afterId));
  }
  return { sql: conds.length ? ` WHERE ${conds.join(" AND ")}` : "", params };
}

/** The limit as a positive whole number, or null for no limit. */
export function limitOf(filter: ListFilter): number | null {
  if (filter.limit === undefined) return null;
  if (!Number.isSafeInteger(filter.limit) || filter.limit < 0) {
    throw new UserError(`limit ${shown(filter.limit)} is not a whole number of 0 or more`);
  }
  return filter.limit;
}

function finite(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new UserError(`${name} filter ${shown(value)} is not a number`);
  return value;
}

function shown(value: unknown): string {
  return typeof value === "number" ? String(value) : JSON.stringify(value);
}
