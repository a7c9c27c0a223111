// The recording store's front door: Store.open(spec) opens a SQLite file or, for a postgres:// URL, a shared
// PostgreSQL database, behind one synchronous API (RecordingStore). The engines: sqlite-engine.ts, pg-engine.ts.
import { isPostgresSpec } from "./db-spec.js";
import { openPgStore } from "./pg-engine.js";
import type { OpenOptions, RecordingStore } from "./recording-store.js";
import { openSqliteStore } from "./sqlite-engine.js";

export type { ListFilter } from "./filter.js";
export type { ExchangeRow } from "./rows.js";
export type {
  AnalysisQueries, ChainUseRow, ExchangeSummaryRow, FlagSummary, GroupKey, LatencyGroup, OpenOptions, RecordingStore,
} from "./recording-store.js";

/** A recording, whichever engine holds it. */
export type Store = RecordingStore;

/** Opens the recording spec names: a postgres:// URL (as parseDbSpec returns it, password masked) or a file path. */
export function openStore(spec: string, opts: OpenOptions = {}): RecordingStore {
  return isPostgresSpec(spec) ? openPgStore(spec, opts) : openSqliteStore(spec, opts);
}

export const Store = { open: openStore };
