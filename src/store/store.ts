// The recording store's front door: Store.open(spec) opens a SQLite file or, for a postgres:// URL, a shared
// PostgreSQL database, behind one synchronous API (RecordingStore). The engines: sqlite-engine.ts, pg-engine.ts.
import { isPostgresSpec } from "./db-spec.js";
import { openPgStore } from "./pg-engine.js";
import type { OpenOptions, RecordingStore } from "./recording-store.js";
import { PgStoreWriter } from "./pg-writer.js";
import { openSqliteStore } from "./sqlite-engine.js";
import { StoreWriter, type BatchWriter } from "./writer-thread.js";

export type { ListFilter } from "./filter.js";
export type { SourceSelector } from "./source-selector.js";
export type { BatchWriter } from "./writer-thread.js";
export { isPostgresSpec, shownSpec } from "./db-spec.js";
export type { ExchangeRow } from "./rows.js";
export type {
  AnalysisQueries, ChainUseRow, ExchangeSummaryRow, FlagSummary, GroupKey, CollectionReads, LatencyGroup, ListsAndWatches, OpenOptions, RecordingStore, RetryHeaders,
} from "./recording-store.js";

/** A recording, whichever engine holds it. */
export type Store = RecordingStore;

/** Opens the recording spec names: a postgres:// URL (as parseDbSpec returns it, password masked) or a file path. */
export function openStore(spec: string, opts: OpenOptions = {}): RecordingStore {
  return isPostgresSpec(spec) ? openPgStore(spec, opts) : openSqliteStore(spec, opts);
}

export const Store = { open: openStore };

/** The recorder's batch writer for the recording spec names (created and migrated by Store.open first). */
export function openStoreWriter(spec: string, opts: { busyTimeoutMs: number }): BatchWriter {
  return isPostgresSpec(spec) ? new PgStoreWriter(spec) : new StoreWriter(spec, opts);
}
