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
  {
    version: 5,
    description: "sources: where each exchange was recorded (host, run, pod, namespace, service account)",
    sql: `
      -- One row per distinct source, deduplicated as tls_chains are; '' means not known. Two processes writing
      -- one source at once: the second's ON CONFLICT DO NOTHING waits for the first's commit, then reads its id.
      CREATE TABLE sources (
        id BIGSERIAL PRIMARY KEY,
        host TEXT COLLATE "C" NOT NULL,
        run TEXT COLLATE "C" NOT NULL,
        pod TEXT COLLATE "C" NOT NULL,
        namespace TEXT COLLATE "C" NOT NULL,
        service_account TEXT COLLATE "C" NOT NULL,
        UNIQUE (host, run, pod, namespace, service_account)
      );
      -- Source 0 is "not known", written with its id given (the sequence starts at 1 and is not moved by it);
      -- every exchange recorded before this version gets it through the constant default, with no table rewrite.
      INSERT INTO sources (id, host, run, pod, namespace, service_account) VALUES (0, '', '', '', '', '');
      ALTER TABLE exchanges ADD COLUMN source_id BIGINT NOT NULL DEFAULT 0; -- sources (id)
      -- ls --source (a selector picks source ids in the small table, then this index) and "is there more than
      -- one source" (min and max of source_id, each read from one end of the index).
      CREATE INDEX exchanges_source ON exchanges (source_id, started_at);
    `,
  },
  {
    version: 6,
    description: "kubewire's own answers (its 502 for an unreachable API server, its proxy-token 401, a 400/431 for a refused request) are no responses",
    // As SQLite's step 6: kubewire's own answers kept as responses marked fromProxy move to detail.proxyAnswer
    // (status NULL, bytes_out 0, detail.response null); faults injected on purpose stay responses. No PostgreSQL
    // recording was written before this release, so the step normally changes nothing; it is the real UPDATE
    // all the same, so that a database at version 5 with such rows (a pre-release build's) reads as SQLite's
    // does and the numbering stays the same on both engines. PostgreSQL's json functions refuse a detail
    // holding the escape \u0000 (a NUL in a recorded body): such a detail is not parsed (CASE decides first,
    // as AND does not) and stays as it was, rather than failing the step and leaving the database unopenable.
    sql: `
      UPDATE exchange_details d SET detail = (
          SELECT json_object_agg(kv.k, kv.v)::text FROM (
            SELECT j.key AS k, CASE WHEN j.key = 'response' THEN 'null'::json ELSE j.value END AS v
              FROM json_each(d.detail::json) j WHERE j.key <> 'proxyAnswer'
            UNION ALL
            SELECT 'proxyAnswer', json_build_object('status', e.status, 'headers', d.detail::json -> 'response' -> 'headers',
              'body', coalesce(d.detail::json -> 'response' -> 'body', 'null'::json))
          ) kv)
        FROM exchanges e
        WHERE e.id = d.exchange_id AND e.error_code IS NOT NULL AND e.status IS NOT NULL
          AND CASE WHEN strpos(d.detail, '\\u0000') > 0 THEN false
            ELSE d.detail::json -> 'response' ->> 'fromProxy' = 'true' AND coalesce(d.detail::json ->> 'injected', 'null') = 'null' END;
      UPDATE exchanges e SET status = NULL, bytes_out = 0
        WHERE e.error_code IS NOT NULL AND e.status IS NOT NULL
          AND EXISTS (SELECT 1 FROM exchange_details d WHERE d.exchange_id = e.id
            AND CASE WHEN strpos(d.detail, '\\u0000') > 0 THEN false ELSE d.detail::json -> 'proxyAnswer' IS NOT NULL END);
    `,
  },
  {
    version: 7,
    description: "exchanges_latency and exchanges_chain also cover origin and source, which flags always filters on",
    // As SQLite's step 7: the latency groups and the chains' uses filter on origin (and --source on source_id).
    sql: `
      DROP INDEX IF EXISTS exchanges_latency;
      CREATE INDEX exchanges_latency ON exchanges
        (context, verb, api_group, resource, subresource, duration_ms, status, bytes_in, bytes_out, origin, source_id);
      DROP INDEX IF EXISTS exchanges_chain;
      CREATE INDEX exchanges_chain ON exchanges (tls_chain_id, started_at, origin, source_id) WHERE tls_chain_id IS NOT NULL;
    `,
  },
];

export const PG_LATEST_VERSION = pgMigrations[pgMigrations.length - 1]!.version;

/** The exchanges columns the batch insert writes, in exchangeParams' order, then its own three. */
export const PG_EXCHANGE_COLUMNS = `started_at, method, path, query, verb, api_group, api_version, resource, subresource, namespace, name,
  status, duration_ms, error_code, error_message, context, cluster_url, kube_user, user_agent, client_address, bytes_in, bytes_out,
  origin, replay_of, watch_error_code, tls_chain_id, source_id, repeat_count, last_seen_at, id`;

/** SQL the batch insert runs, with $n placeholders (the worker speaks pg directly). */
export const PG_SQL = {
  nextIds: "SELECT nextval('exchanges_id_seq') FROM generate_series(1, $1)",
  chainInsert: "INSERT INTO tls_chains (fingerprint, chain) VALUES ($1, $2) ON CONFLICT (fingerprint) DO NOTHING",
  chainSelect: "SELECT id FROM tls_chains WHERE fingerprint = $1",
  sourceInsert: `INSERT INTO sources (host, run, pod, namespace, service_account) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (host, run, pod, namespace, service_account) DO NOTHING`,
  sourceSelect: "SELECT id FROM sources WHERE host = $1 AND run = $2 AND pod = $3 AND namespace = $4 AND service_account = $5",
  aggFind: `SELECT id FROM exchanges WHERE error_code = $1 AND started_at >= $2 AND started_at < $3
    AND client_address = $4 AND context = $5 AND last_seen_at IS NOT NULL AND source_id = $6 ORDER BY id LIMIT 1 FOR UPDATE`,
  aggMerge: `UPDATE exchanges SET repeat_count = repeat_count + $1, started_at = least(started_at, $2),
    last_seen_at = greatest(last_seen_at, $3) WHERE id = $4`,
  meta: "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};
