// PostgreSQL's schema history and the SQL only it speaks. The steps mirror migrations.ts version for version
// (add a step to both; never edit a shipped one), recorded in schema_migrations. Text columns compare and sort
// bytewise (COLLATE "C"), as SQLite's do, so both engines order rows alike.

export interface PgMigration {
  version: number;
  description: string;
  sql: string;
}

export const PG_APP_MARKER = "kubewire";

/** Serializes migrations between processes opening one database at once (pg_advisory_xact_lock's key). */
export const MIGRATION_LOCK = 0x6b776972; // "kwir"

export const PG_SCHEMA_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`;

export const pgMigrations: PgMigration[] = [
  {
    version: 1,
    description: "exchanges, details, deduplicated TLS chains, flags and meta",
    sql: `
      CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO meta (key, value) VALUES ('app', '${PG_APP_MARKER}');

      CREATE TABLE tls_chains (
        id BIGSERIAL PRIMARY KEY,
        fingerprint TEXT COLLATE "C" NOT NULL UNIQUE,
        chain TEXT NOT NULL
      );

      -- ids come from the exchanges_id_seq sequence, so processes recording at once never collide.
      CREATE TABLE exchanges (
        id BIGSERIAL PRIMARY KEY,
        started_at BIGINT NOT NULL,
        method TEXT COLLATE "C" NOT NULL,
        path TEXT COLLATE "C" NOT NULL,
        query TEXT COLLATE "C" NOT NULL,
        verb TEXT COLLATE "C" NOT NULL,
        api_group TEXT COLLATE "C" NOT NULL,
        api_version TEXT COLLATE "C" NOT NULL,
        resource TEXT COLLATE "C" NOT NULL,
        subresource TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        status INTEGER,
        duration_ms DOUBLE PRECISION NOT NULL,
        error_code TEXT COLLATE "C",
        error_message TEXT,
        context TEXT COLLATE "C" NOT NULL,
        cluster_url TEXT NOT NULL,
        kube_user TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        client_address TEXT COLLATE "C" NOT NULL,
        bytes_in BIGINT NOT NULL,
        bytes_out BIGINT NOT NULL,
        origin TEXT COLLATE "C" NOT NULL,
        replay_of BIGINT,
        tls_chain_id BIGINT REFERENCES tls_chains (id)
      );
      CREATE INDEX exchanges_started_at ON exchanges (started_at);
      CREATE INDEX exchanges_status ON exchanges (status, started_at);
      CREATE INDEX exchanges_resource ON exchanges (resource, verb, started_at);
      CREATE INDEX exchanges_error ON exchanges (error_code, started_at) WHERE error_code IS NOT NULL;
      CREATE INDEX exchanges_stats ON exchanges (resource, verb, status, started_at, duration_ms);

      CREATE TABLE exchange_details (
        exchange_id BIGINT PRIMARY KEY REFERENCES exchanges (id),
        detail TEXT NOT NULL
      );

      CREATE TABLE exchange_flags (
        exchange_id BIGINT NOT NULL REFERENCES exchanges (id),
        kind TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (exchange_id, kind)
      );
      CREATE INDEX exchange_flags_kind ON exchange_flags (kind, exchange_id);
    `,
  },
  {
    version: 2,
    description: "indexes for stats and flags over millions of exchanges",
    sql: `
      CREATE INDEX IF NOT EXISTS exchanges_latency ON exchanges
        (context, verb, api_group, resource, subresource, duration_ms, status, bytes_in, bytes_out);
      CREATE INDEX IF NOT EXISTS exchanges_chain ON exchanges (tls_chain_id, started_at) WHERE tls_chain_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    description: "the Status code a watch ended with (an ERROR event inside a 200 stream), for ls --status",
    sql: `
      ALTER TABLE exchanges ADD COLUMN watch_error_code INTEGER;
      CREATE INDEX exchanges_watch_error ON exchanges (watch_error_code, started_at) WHERE watch_error_code IS NOT NULL;
    `,
  },
  {
    version: 4,
    description: "aggregated rows: requests without the proxy token counted per client address and minute",
    sql: `
      ALTER TABLE exchanges ADD COLUMN repeat_count INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE exchanges ADD COLUMN last_seen_at BIGINT;
    `,
  },
];

export const PG_LATEST_VERSION = pgMigrations[pgMigrations.length - 1]!.version;

/** The exchanges columns the batch insert writes, in exchangeParams' order, then its own three. */
export const PG_EXCHANGE_COLUMNS = `started_at, method, path, query, verb, api_group, api_version, resource, subresource, namespace, name,
  status, duration_ms, error_code, error_message, context, cluster_url, kube_user, user_agent, client_address, bytes_in, bytes_out,
  origin, replay_of, watch_error_code, tls_chain_id, repeat_count, last_seen_at, id`;

/** SQL the batch insert runs, with $n placeholders (the worker speaks pg directly). */
export const PG_SQL = {
  nextIds: "SELECT nextval('exchanges_id_seq') FROM generate_series(1, $1)",
  chainInsert: "INSERT INTO tls_chains (fingerprint, chain) VALUES ($1, $2) ON CONFLICT (fingerprint) DO NOTHING",
  chainSelect: "SELECT id FROM tls_chains WHERE fingerprint = $1",
  aggFind: `SELECT id FROM exchanges WHERE error_code = $1 AND started_at >= $2 AND started_at < $3
    AND client_address = $4 AND context = $5 AND last_seen_at IS NOT NULL ORDER BY id LIMIT 1 FOR UPDATE`,
  aggMerge: `UPDATE exchanges SET repeat_count = repeat_count + $1, started_at = least(started_at, $2),
    last_seen_at = greatest(last_seen_at, $3) WHERE id = $4`,
  meta: "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};
