// The recording store's API, as every consumer uses it (cli, analyze, replay, export, ui, recorder), whatever the
// engine behind it: a SQLite file or a shared PostgreSQL database. Synchronous on both (see pg-engine.ts).
import type { CertInfo, Exchange, ExchangeSource } from "../types.js";
import type { ListFilter } from "./filter.js";
import type { ExchangeRow } from "./rows.js";

export interface OpenOptions {
  /** open for reading only; the recording must exist and be at the latest schema */
  readonly?: boolean;
  /** make the file and its folder (or the schema) when missing (default true unless readonly) */
  create?: boolean;
  /** how long a write waits for another connection's lock (default 5000 ms; the recorder uses 50) */
  busyTimeoutMs?: number;
  /**
   * run PRAGMA quick_check before use and refuse a damaged file (the recorder does, at start); it reads
   * the whole file, about 1 s per 250 MB, so the query commands rely on their reads failing instead
   */
  check?: boolean;
  /** told, in one line, when a loose mode was tightened (default: stderr) */
  notice?: (line: string) => void;
}

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
}

/** Two headers of one exchange, read from its JSON detail only for the exchanges asked about (retry-storm's). */
export interface RetryHeaders {
  /** the client's per-run id (kubectl's Kubectl-Session header), "" when it sent none */
  session: string;
  /** the response's Retry-After header, null when absent */
  retryAfter: string | null;
}

/** A collection: one resource of one API group in one namespace ("": all of them) of one context. */
export interface CollectionKey {
  context: string;
  group: string;
  resource: string;
  namespace: string;
}

/**
 * The lists and watches of whole collections as relist-storm reads them, oldest first (start time, then id), as
 * columns: read i is id[i], startedAt[i] and so on. Numbers only, the collection named once, no object per read.
 */
export interface CollectionReads {
  readonly length: number;
  readonly id: Float64Array;
  readonly startedAt: Float64Array;
  readonly durationMs: Float64Array;
  /** 1 for a watch, 0 for a list */
  readonly watch: Uint8Array;
  /** its collection: an index into ListsAndWatches.collections */
  readonly of: Uint32Array;
}

/** Every list and watch of a whole collection (1,000,000 exchanges may hold 260,000). */
export interface ListsAndWatches {
  collections: CollectionKey[];
  reads: CollectionReads;
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

/** One group's count and median latency (nearest rank, in ms): what analyze's baselines are. */
export interface GroupMedian extends GroupKey {
  count: number;
  p50Ms: number;
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

/** The analysis queries (analysis.ts): whole-set questions the rules and stats ask of the matching exchanges. */
export interface AnalysisQueries {
  /** Per flag kind among the matching exchanges: how many requests (an aggregated row counts all it stands for), first and last time, and the lowest `examples` ids. */
  flagSummary(filter?: ListFilter, examples?: number): FlagSummary[];
  /** Whether the exchanges come from more than one source (the tables then show where each was recorded). */
  severalSources(): boolean;
  /** Per flag kind among the matching exchanges: the sources they were recorded at (unknown as {}), in id order. */
  flagSources(filter?: ListFilter): Map<string, ExchangeSource[]>;
  /** The distinct sources of these exchanges (unknown as {}), in id order. */
  sourcesOf(ids: number[]): ExchangeSource[];
  /** Per context, verb and resource: count, errors, bytes and the latency percentiles asked for (nearest rank, in ms). */
  latencyGroups(filter?: ListFilter, percentiles?: number[]): LatencyGroup[];
  /** Per context, verb and resource: count and median latency (nearest rank, in ms): latencyGroups without the sums. */
  groupMedians(filter?: ListFilter): GroupMedian[];
  /** The narrow columns of the matching exchanges of one group that took longer than ms, oldest first. */
  slowerThan(filter: ListFilter, group: GroupKey, ms: number): ExchangeSummaryRow[];
  /** Every matching list and watch of a whole collection (no subresource), oldest first. */
  listsAndWatches(filter?: ListFilter): ListsAndWatches;
  /** The failed matching exchanges (status >= 400 or no response) whose request failed at least minRepeats times, oldest first. */
  failures(filter?: ListFilter, minRepeats?: number): ExchangeSummaryRow[];
  /** The Kubectl-Session and Retry-After headers of these exchanges, by id (a detail read per exchange: ask for few). */
  retryHeaders(ids: number[]): Map<number, RetryHeaders>;
  /** Each TLS chain used by the matching exchanges: its certificates, last context, count, first/last use and lowest ids. */
  chainUses(filter?: ListFilter, examples?: number): ChainUseRow[];
}

export interface RecordingStore extends AnalysisQueries {
  /** the file's path, or the postgres:// URL with its password masked: safe to show */
  readonly path: string;
  readonly engine: "sqlite" | "postgres";
  /** Writes all exchanges in one transaction; returns their ids in order and sets exchange.id. */
  insertMany(exchanges: Exchange[], flagsOf?: (ex: Exchange) => string[]): number[];
  /** Runs fn in one transaction (nested calls such as insertMany become savepoints). */
  transaction<T>(fn: () => T): T;
  /** Matching exchanges, oldest first (by start time, then id); with limit, the newest N. */
  list(filter?: ListFilter): ExchangeRow[];
  /** One page of the matching exchanges, newest first by id, below beforeId when given (keyset paging). */
  pageBefore(filter: ListFilter, beforeId: number | null, size: number): ExchangeRow[];
  count(filter?: ListFilter): number;
  /** Everything recorded about one exchange, or null when there is no such id. */
  get(id: number): Exchange | null;
  /** Full exchanges in list order, read in pages so millions of rows stream in bounded memory. */
  iterate(filter?: ListFilter): IterableIterator<Exchange>;
  setFlags(id: number, kinds: string[]): void;
  setFlagsMany(entries: Iterable<[number, string[]]>): void;
  replaceFlagKind(kind: string, ids: Iterable<number>): void;
  /** The highest exchange id recorded so far (0 when empty). */
  lastId(): number;
  meta(key: string): string | null;
  setMeta(key: string, value: string): void;
  deleteMeta(key: string): void;
  usedBytes(): number;
  /** push: of these ids of the recording `recording` (its meta recording.id), the ones already pushed here, with the id each got */
  pushedIds(recording: string, localIds: number[]): Map<number, number>;
  /** push: records that these [local id, id here] pairs of `recording` are here (a second push of one fails: never two copies) */
  markPushed(recording: string, pairs: Array<[number, number]>): void;
  /** --max-db-size: deletes the oldest exchanges until the recording fits maxBytes; returns how many went. */
  pruneToSize(maxBytes: number, maxBatch?: number): number;
  close(): void;
}
