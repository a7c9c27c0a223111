// What the store needs of a database engine: a synchronous connection (SQL with `?` placeholders, rows back)
// and the dialect's few differing fragments. Each engine (sqlite-engine.ts, pg-engine.ts) provides both.
import type { Exchange } from "../types.js";

export interface SqlConnection {
  /** rows as objects keyed by column name */
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): T[];
  /** rows as arrays, in column order */
  rows(sql: string, params?: unknown[]): unknown[][];
  /** the first column of every row */
  column<T = unknown>(sql: string, params?: unknown[]): T[];
  /** the first column of the first row; undefined when there is no row */
  value<T = unknown>(sql: string, params?: unknown[]): T | undefined;
  /** runs a statement; returns the rows it changed */
  run(sql: string, params?: unknown[]): number;
  /** runs fn in one transaction; nested calls become savepoints */
  transaction<T>(fn: () => T): T;
  /**
   * The engine's one batch insert: the exchanges (their details, chains and flagsOf's kinds) and an optional
   * meta [key, value], in one transaction (or inside the one open); returns the ids in order.
   */
  insertBatch(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[], meta?: [string, string]): number[];
  /** bytes of the recording's tables and indexes in use */
  usedBytes(): number;
  close(): void;
}

/** The SQL fragments that differ between SQLite and PostgreSQL; everything else is written once. */
export interface Dialect {
  readonly name: "sqlite" | "postgres";
  /** a subquery yielding the ids of one bound JSON array parameter */
  readonly idsIn: string;
  /** true when column contains the bound text */
  contains(column: string): string;
  /** flag kinds of exchange e joined by FLAG_SEPARATOR (or NULL) */
  readonly flagList: string;
  /** ids of the group joined by commas */
  readonly idList: string;
  /** the text at requestHeaders/response.headers... of a JSON text column: a string, or a JSON array's text */
  jsonText(column: string, path: string[]): string;
  /** after `FROM exchanges e`: walk the table by primary key, not a filter's index */
  readonly byPrimaryKey: string;
  /** e.id written so that a planner does not pick the primary key for a bound on it */
  readonly idNoIndex: string;
  /**
   * nearest-rank percentiles of duration_ms as aggregate expressions of one GROUP BY query, or null when the
   * engine answers them one OFFSET walk per percentile along an index (SQLite)
   */
  percentiles(ps: number[]): string | null;
}
