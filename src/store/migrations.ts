// The recording's schema history: an ordered list of steps, each run once in its own
// transaction and recorded in PRAGMA user_version. Add a step; never edit a shipped one.
// Versions only increase; they need not be contiguous (a file skips no step it lacks).
import type Database from "better-sqlite3";

export interface Migration {
  version: number;
  description: string;
  up: (db: Database.Database) => void;
}

export const APP_MARKER = "kubewire";

export const migrations: Migration[] = [
  {
    version: 1,
    description: "exchanges, details, deduplicated TLS chains, flags and meta",
    up: (db) =>
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO meta (key, value) VALUES ('app', '${APP_MARKER}');

        CREATE TABLE tls_chains (
          id INTEGER PRIMARY KEY,
          fingerprint TEXT NOT NULL UNIQUE,   -- the certificates' SHA-256s, leaf first
          chain TEXT NOT NULL                 -- JSON CertInfo[]
        );

        -- One narrow row per exchange: only the columns that filters and aggregates read.
        CREATE TABLE exchanges (
          id INTEGER PRIMARY KEY,
          started_at INTEGER NOT NULL,        -- epoch ms
          method TEXT NOT NULL,
          path TEXT NOT NULL,
          query TEXT NOT NULL,
          verb TEXT NOT NULL,
          api_group TEXT NOT NULL,
          api_version TEXT NOT NULL,
          resource TEXT NOT NULL,
          subresource TEXT NOT NULL,
          namespace TEXT NOT NULL,
          name TEXT NOT NULL,
          status INTEGER,                     -- NULL: no response at all
          duration_ms REAL NOT NULL,
          error_code TEXT,
          error_message TEXT,
          context TEXT NOT NULL,
          cluster_url TEXT NOT NULL,
          kube_user TEXT NOT NULL,
          user_agent TEXT NOT NULL,
          client_address TEXT NOT NULL,
          bytes_in INTEGER NOT NULL,          -- request bytes from the client
          bytes_out INTEGER NOT NULL,         -- response bytes to the client
          origin TEXT NOT NULL,
          replay_of INTEGER,
          tls_chain_id INTEGER REFERENCES tls_chains (id)
        );
        CREATE INDEX exchanges_started_at ON exchanges (started_at);
        CREATE INDEX exchanges_status ON exchanges (status, started_at);
        CREATE INDEX exchanges_resource ON exchanges (resource, verb, started_at);
        CREATE INDEX exchanges_error ON exchanges (error_code, started_at) WHERE error_code IS NOT NULL;
        -- Covers aggregates (counts, error rates, latency by resource/verb/status, optionally since T) without
        -- touching the table: 0.3 s instead of 3.5 s over 1,000,000 rows.
        CREATE INDEX exchanges_stats ON exchanges (resource, verb, status, started_at, duration_ms);

        -- The bulky parts, read only by show/get/iterate: headers, bodies, timing, TLS session, stream.
        CREATE TABLE exchange_details (
          exchange_id INTEGER PRIMARY KEY REFERENCES exchanges (id),
          detail TEXT NOT NULL                -- JSON, see store/rows.ts
        );

        CREATE TABLE exchange_flags (
          exchange_id INTEGER NOT NULL REFERENCES exchanges (id),
          kind TEXT NOT NULL,
          PRIMARY KEY (exchange_id, kind)
        ) WITHOUT ROWID;
        CREATE INDEX exchange_flags_kind ON exchange_flags (kind, exchange_id);
      `),
  },
  {
    version: 2,
    description: "indexes for stats and flags over millions of exchanges",
    up: (db) =>
      db.exec(`
        -- Covers stats and the slow rule: grouped per context/verb/resource in index order, percentiles by
        -- OFFSET along duration_ms, without reading the table (0.6 s instead of 4 s over 1,000,000 rows).
        CREATE INDEX IF NOT EXISTS exchanges_latency ON exchanges
          (context, verb, api_group, resource, subresource, duration_ms, status, bytes_in, bytes_out);
        -- First/last use of each upstream certificate chain (expiring-credentials).
        CREATE INDEX IF NOT EXISTS exchanges_chain ON exchanges (tls_chain_id, started_at) WHERE tls_chain_id IS NOT NULL;
      `),
  },
  {
    version: 3,
    description: "the Status code a watch ended with (an ERROR event inside a 200 stream), for ls --status",
    up: (db) =>
      db.exec(`
        -- A watch answers 200 and may end with an ERROR event carrying a Status (410 Expired): its code, or NULL.
        ALTER TABLE exchanges ADD COLUMN watch_error_code INTEGER;
        CREATE INDEX exchanges_watch_error ON exchanges (watch_error_code, started_at) WHERE watch_error_code IS NOT NULL;
      `),
  },
  {
    version: 4,
    description: "aggregated rows: requests without the proxy token counted per client address and minute",
    up: (db) =>
      db.exec(`
        -- How many requests one aggregated row stands for, and when the last of them came (NULL: not an
        -- aggregated row). The first is started_at; headers and the rest are the first request's.
        ALTER TABLE exchanges ADD COLUMN repeat_count INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE exchanges ADD COLUMN last_seen_at INTEGER;
      `),
  },
  {
    version: 5,
    description: "sources: where each exchange was recorded (host, run, pod, namespace, service account)",
    up: (db) =>
      db.exec(`
        -- One row per distinct source, deduplicated as tls_chains are: a run writes one row (one per service
        -- account in-cluster), so each exchange carries one integer, not five strings. '' means not known.
        CREATE TABLE sources (
          id INTEGER PRIMARY KEY,
          host TEXT NOT NULL,
          run TEXT NOT NULL,
          pod TEXT NOT NULL,
          namespace TEXT NOT NULL,
          service_account TEXT NOT NULL,
          UNIQUE (host, run, pod, namespace, service_account)
        );
        -- Source 0 is "not known": every exchange recorded before this version, at no cost (a constant default).
        INSERT INTO sources (id, host, run, pod, namespace, service_account) VALUES (0, '', '', '', '', '');
        ALTER TABLE exchanges ADD COLUMN source_id INTEGER NOT NULL DEFAULT 0; -- sources (id)
        -- ls --source (a selector picks source ids in the small table, then this index) and "is there more
        -- than one source" (min and max of source_id) without reading the table.
        CREATE INDEX exchanges_source ON exchanges (source_id, started_at);
      `),
  },
  {
    version: 6,
    description: "kubewire's own answers (its 502 for an unreachable API server, its proxy-token 401, a 400/431 for a refused request) are no responses",
    up: (db) =>
      db.exec(`
        -- Before: kept as the response (status 502/401/400/431, bytes_out, detail.response with fromProxy: true)
        -- beside the error. After: status NULL, bytes_out 0, detail.response null, and what the client was
        -- answered moved to detail.proxyAnswer. Faults injected on purpose (detail.injected) stay responses.
        -- Only rows with an error and a status can be such answers: found through exchanges_error, then by key.
        UPDATE exchange_details SET detail = json_set(detail,
            '$.proxyAnswer', json_object(
              'status', (SELECT e.status FROM exchanges e WHERE e.id = exchange_id),
              'headers', json(json_extract(detail, '$.response.headers')),
              'body', json(coalesce(json_extract(detail, '$.response.body'), 'null'))),
            '$.response', json('null'))
          WHERE exchange_id IN (SELECT id FROM exchanges WHERE error_code IS NOT NULL AND status IS NOT NULL)
            AND json_extract(detail, '$.response.fromProxy') = 1
            AND json_extract(detail, '$.injected') IS NULL;
        UPDATE exchanges SET status = NULL, bytes_out = 0
          WHERE error_code IS NOT NULL AND status IS NOT NULL
            AND EXISTS (SELECT 1 FROM exchange_details d WHERE d.exchange_id = exchanges.id AND json_extract(d.detail, '$.proxyAnswer') IS NOT NULL);
      `),
  },
  {
    version: 7,
    description: "exchanges_latency and exchanges_chain also cover origin and source, which flags always filters on",
    up: (db) =>
      db.exec(`
        -- flags judges only the proxy's and imported traffic (origin IN ...), and --source selects source ids:
        -- without these two columns every row of the latency groups and of their OFFSET walks was looked up in
        -- the table (17 s instead of 0.4 s over 1,000,000 rows), and every row of a chain's count and lowest
        -- ids (0.2 s each instead of 0.05). Appended, so each index keeps its order.
        DROP INDEX IF EXISTS exchanges_latency;
        CREATE INDEX exchanges_latency ON exchanges
          (context, verb, api_group, resource, subresource, duration_ms, status, bytes_in, bytes_out, origin, source_id);
        DROP INDEX IF EXISTS exchanges_chain;
        CREATE INDEX exchanges_chain ON exchanges (tls_chain_id, started_at, origin, source_id) WHERE tls_chain_id IS NOT NULL;
      `),
  },
];

export const LATEST_VERSION = migrations[migrations.length - 1]!.version;
