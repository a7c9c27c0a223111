// Mapping between an Exchange and its rows: the narrow `exchanges` columns, the JSON
// detail (headers, bodies, timing, TLS session, stream) and the stable ExchangeRow shape.
import type { CapturedBody, CertInfo, Exchange, ExchangeSource, Headers, ProxyAnswer, StreamInfo, Timing, WireConnection, WireProtocol } from "../types.js";

/** The stable `ls -o json` shape, one per exchange. */
export interface ExchangeRow {
  id: number;
  /** ISO 8601 */
  time: string;
  method: string;
  path: string;
  query: string;
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  status: number | null;
  durationMs: number;
  error: { code: string; message: string } | null;
  context: string;
  userAgent: string;
  bytesIn: number;
  bytesOut: number;
  flags: string[];
  origin: string;
  replayOf: number | null;
  /** only on an aggregated row (requests without the proxy token): how many it stands for, and the last one's time */
  repeat?: { count: number; lastSeen: string };
  /** where it was recorded; absent when nothing is known (records made before schema version 5) */
  source?: ExchangeSource;
}

/** The columns of one `exchanges` row, as SQLite returns them. */
export interface ExchangeColumns {
  id: number;
  started_at: number;
  method: string;
  path: string;
  query: string;
  verb: string;
  api_group: string;
  api_version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  status: number | null;
  duration_ms: number;
  error_code: string | null;
  error_message: string | null;
  context: string;
  cluster_url: string;
  kube_user: string;
  user_agent: string;
  client_address: string;
  bytes_in: number;
  bytes_out: number;
  origin: string;
  replay_of: number | null;
  tls_chain_id: number | null;
  /** the Status code of a watch's last ERROR event (schema version 3) */
  watch_error_code?: number | null;
  /** requests this row stands for (1 unless aggregated; schema version 4) */
  repeat_count: number;
  /** the last of them, epoch ms; NULL when the row is not an aggregated one */
  last_seen_at: number | null;
  /** sources (id): where it was recorded, 0 when not known (schema version 5) */
  source_id: number;
}

/** One `sources` row: '' for a part that is not known. */
export interface SourceColumns {
  host: string;
  run: string;
  pod: string;
  namespace: string;
  service_account: string;
}

/** Everything of an Exchange that has no column, stored as JSON in exchange_details. */
interface Detail {
  isResourceRequest: boolean;
  apiPrefix: string;
  requestHeaders: Headers;
  requestBody: CapturedBody | null;
  response: { headers: Headers; body: CapturedBody | null; wireBytes?: number } | null;
  /** what kubewire answered the client itself (schema version 6; before it, such answers were kept as responses marked fromProxy) */
  proxyAnswer?: ProxyAnswer;
  /** request body bytes as sent, when an encoded body made them differ from bytes_in */
  requestWireBytes?: number;
  timing: Timing;
  tls: { protocol: string | null; cipher: string | null; alpn: string | null; resumed: boolean } | null;
  errorPhase?: string;
  /** the proxy-url whose failure it was (ExchangeError.proxy) */
  errorProxy?: string;
  stream: StreamInfo | null;
  impersonation?: Exchange["impersonation"];
  kubeCluster?: string;
  /** records made before schema version 5 kept an in-cluster client's service account here; now it is in sources */
  serviceAccount?: string;
  protocol?: WireProtocol;
  connection?: WireConnection;
  /** a kubewire fault rule acted on this exchange */
  injected?: { rule: string; action: string };
}

export const INSERT_FLAG_SQL = "INSERT INTO exchange_flags (exchange_id, kind) VALUES (?, ?) ON CONFLICT DO NOTHING";
export const INSERT_DETAIL_SQL = "INSERT INTO exchange_details (exchange_id, detail) VALUES (?, ?)";
export const INSERT_CHAIN_SQL = "INSERT INTO tls_chains (fingerprint, chain) VALUES (?, ?) ON CONFLICT (fingerprint) DO NOTHING";
export const SELECT_CHAIN_ID_SQL = "SELECT id FROM tls_chains WHERE fingerprint = ?";

/** The dedup key of a chain: its certificates' SHA-256s, leaf first. */
export function chainFingerprint(chain: CertInfo[]): string {
  return chain.map((c) => c.sha256 || JSON.stringify(c)).join(",");
}

export const INSERT_EXCHANGE_SQL = `INSERT INTO exchanges (started_at, method, path, query, verb, api_group, api_version,
  resource, subresource, namespace, name, status, duration_ms, error_code, error_message, context, cluster_url, kube_user,
  user_agent, client_address, bytes_in, bytes_out, origin, replay_of, watch_error_code, tls_chain_id, source_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Sources are deduplicated as chains are: insert if new, then read the id (SOURCE_PARAMS order). */
export const INSERT_SOURCE_SQL = `INSERT INTO sources (host, run, pod, namespace, service_account) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (host, run, pod, namespace, service_account) DO NOTHING`;
export const SELECT_SOURCE_ID_SQL = "SELECT id FROM sources WHERE host = ? AND run = ? AND pod = ? AND namespace = ? AND service_account = ?";
export const SELECT_SOURCE_SQL = "SELECT host, run, pod, namespace, service_account FROM sources WHERE id = ?";
/** The source every part of which is unknown (a row the migration made). */
export const UNKNOWN_SOURCE_ID = 0;

/** Bound parameters for INSERT_SOURCE_SQL and SELECT_SOURCE_ID_SQL; null when nothing is known (source 0). */
export function sourceParams(ex: Exchange): string[] | null {
  const s = ex.source;
  if (!s) return null;
  const p = [s.host ?? "", s.run ?? "", s.pod ?? "", s.namespace ?? "", s.serviceAccount ?? ""];
  return p.some((v) => v !== "") ? p : null;
}

/** A `sources` row as an ExchangeSource (only the parts known); undefined when nothing is. */
export function sourceFrom(c: SourceColumns | undefined): ExchangeSource | undefined {
  if (!c) return undefined;
  const s: ExchangeSource = {};
  if (c.host) s.host = c.host;
  if (c.run) s.run = c.run;
  if (c.pod) s.pod = c.pod;
  if (c.namespace) s.namespace = c.namespace;
  if (c.service_account) s.serviceAccount = c.service_account;
  return Object.keys(s).length ? s : undefined;
}

/**
 * Aggregated rows (Exchange.repeat): one per context, client address and minute. A batch finds the
 * minute's row and adds to it, or inserts the exchange as usual and then marks it with SET_AGGREGATE_SQL.
 */
export const FIND_AGGREGATE_SQL = `SELECT id FROM exchanges WHERE error_code = ? AND started_at >= ? AND started_at < ?
  AND client_address = ? AND context = ? AND last_seen_at IS NOT NULL AND source_id = ? ORDER BY id LIMIT 1`;
export const MERGE_AGGREGATE_SQL = `UPDATE exchanges SET repeat_count = repeat_count + ?, started_at = min(started_at, ?),
  last_seen_at = max(last_seen_at, ?) WHERE id = ?`;
export const SET_AGGREGATE_SQL = "UPDATE exchanges SET repeat_count = ?, last_seen_at = ? WHERE id = ?";
export const AGGREGATE_MINUTE_MS = 60_000;

/** For an aggregated exchange: [FIND params (its source id to append), [count, first, last] for MERGE/SET (id appended)]; null otherwise. */
export function aggregateParams(ex: Exchange): [find: unknown[], counts: [number, number, number]] | null {
  if (!ex.repeat) return null;
  const minute = Math.floor(ex.startedAt / AGGREGATE_MINUTE_MS) * AGGREGATE_MINUTE_MS;
  return [
    [ex.error?.code ?? null, minute, minute + AGGREGATE_MINUTE_MS, ex.client.address, ex.context],
    [ex.repeat.count, ex.startedAt, Math.max(ex.repeat.lastSeenAt, ex.startedAt)],
  ];
}

/** Bound parameters for INSERT_EXCHANGE_SQL, in column order (tls_chain_id and source_id last). */
export function exchangeParams(ex: Exchange, tlsChainId: number | null, sourceId: number): unknown[] {
  const { request: rq, info } = ex;
  return [
    ex.startedAt, rq.method, rq.path, rq.query, info.verb, info.apiGroup, info.apiVersion,
    info.resource, info.subresource, info.namespace, info.name, ex.response ? ex.response.status : null,
    ex.timing.totalMs, ex.error ? ex.error.code : null, ex.error ? ex.error.message : null,
    ex.context, ex.clusterUrl, ex.kubeUser, ex.client.userAgent, ex.client.address,
    rq.bytes, ex.response ? ex.response.bytes : 0, ex.origin, ex.replayOf ?? null, ex.stream?.lastError?.code ?? null, tlsChainId, sourceId,
  ];
}

export function detailJson(ex: Exchange): string {
  const detail: Detail = {
    isResourceRequest: ex.info.isResourceRequest,
    apiPrefix: ex.info.apiPrefix,
    requestHeaders: ex.request.headers,
    requestBody: ex.request.body,
    response: ex.response
      ? { headers: ex.response.headers, body: ex.response.body, ...(ex.response.wireBytes !== undefined ? { wireBytes: ex.response.wireBytes } : {}) }
      : null,
    timing: ex.timing,
    tls: ex.tls
      ? { protocol: ex.tls.protocol, cipher: ex.tls.cipher, alpn: ex.tls.alpn, resumed: ex.tls.resumed }
      : null,
    stream: ex.stream,
  };
  if (ex.error?.phase !== undefined) detail.errorPhase = ex.error.phase;
  if (ex.error?.proxy !== undefined) detail.errorProxy = ex.error.proxy;
  if (ex.proxyAnswer) detail.proxyAnswer = ex.proxyAnswer;
  if (ex.request.wireBytes !== undefined) detail.requestWireBytes = ex.request.wireBytes;
  if (ex.impersonation) detail.impersonation = ex.impersonation;
  if (ex.kubeCluster) detail.kubeCluster = ex.kubeCluster;
  if (ex.protocol) detail.protocol = ex.protocol;
  if (ex.connection) detail.connection = ex.connection;
  if (ex.injected) detail.injected = ex.injected;
  return JSON.stringify(detail);
}

/**
 * A record line: how the recorder journals an exchange and hands it to the writer thread. One JSON object
 * laid out so that the writer takes the detail's and the chain's JSON texts by offset, as they are stored,
 * and parses only the small row part (the writer neither parses the exchange again nor serializes its
 * detail): {"detail":DETAIL,"chain":CHAIN,"row":{"cols":[exchangeParams],"fp":FINGERPRINT,"source":[...],"repeat":...}}
 */
export interface RecordLine {
  text: string;
  /** the length of DETAIL (it starts right after '{"detail":', at offset 10) */
  detail: number;
  /** the length of CHAIN ("null" when there is none; it starts right after DETAIL and ',"chain":') */
  chain: number;
}

/** The row part of a record line (what the writer parses). */
export interface RecordRow {
  /** exchangeParams(ex, null, 0): tls_chain_id and source_id are the writer's to fill in */
  cols: unknown[];
  /** chainFingerprint of the chain, null when there is none */
  fp: string | null;
  source: string[] | null;
  repeat?: Exchange["repeat"];
}

/** A parsed record line. */
export interface RecordLineValue {
  detail: Detail;
  chain: CertInfo[] | null;
  row: RecordRow;
}

/** A chain's fingerprint and JSON text, made once per chain: the proxy shares one chain array per upstream connection. */
const chainTexts = new WeakMap<CertInfo[], [fp: string, text: string]>();

/** The record line of an exchange (see RecordLine). Throws when it cannot be serialized. */
export function recordLine(ex: Exchange): RecordLine {
  const detail = detailJson(ex);
  const chain = ex.tls && ex.tls.chain.length > 0 ? ex.tls.chain : null;
  let known = chain ? chainTexts.get(chain) : undefined;
  if (chain && (known === undefined || known[0] !== chainFingerprint(chain))) {
    known = [chainFingerprint(chain), JSON.stringify(chain)];
    chainTexts.set(chain, known);
  }
  const chainText = known ? known[1] : "null";
  const row: RecordRow = { cols: exchangeParams(ex, null, 0), fp: known ? known[0] : null, source: sourceParams(ex) };
  if (ex.repeat) row.repeat = ex.repeat;
  return { text: `{"detail":${detail},"chain":${chainText},"row":${JSON.stringify(row)}}`, detail: detail.length, chain: chainText.length };
}

/**
 * The parts of a record line the writer needs, without parsing the detail or the chain: their texts are
 * sliced out. Self-contained (the writer thread runs its source).
 */
export function recordLineParts(text: string, detailLength: number, chainLength: number): { detail: string; chain: string; row: RecordRow } {
  const chainAt = 10 + detailLength + 9; // '{"detail":' DETAIL ',"chain":'
  return {
    detail: text.substring(10, 10 + detailLength),
    chain: text.substring(chainAt, chainAt + chainLength),
    row: JSON.parse(text.substring(chainAt + chainLength + 7, text.length - 1)), // ',"row":' ROW '}'
  };
}

/**
 * What a writer stores for one posted row (see writer-thread.ts's EncodedRow): a record line's parts as they
 * are, a plain JSON text parsed. Self-contained but for recordLineParts, exchangeParams, detailJson and
 * chainFingerprint, which the writer threads' sources define beside it.
 */
export function rowValues(row: { json: string; split: [number, number] | null }): { params: unknown[]; detail: string; fp: string | null; chain: () => string } {
  if (row.split) {
    const parts = recordLineParts(row.json, row.split[0], row.split[1]);
    return { params: parts.row.cols, detail: parts.detail, fp: parts.row.fp, chain: () => parts.chain };
  }
  const ex = JSON.parse(row.json);
  return {
    params: exchangeParams(ex, null, 0),
    detail: detailJson(ex),
    fp: ex.tls && ex.tls.chain.length > 0 ? chainFingerprint(ex.tls.chain) : null,
    chain: () => JSON.stringify(ex.tls.chain),
  };
}

/** True for a parsed journal or spill line that is a record line (older lines are plain Exchange JSON). */
export function isRecordLine(x: unknown): x is RecordLineValue {
  if (typeof x !== "object" || x === null) return false;
  const v = x as Partial<RecordLineValue>;
  return typeof v.detail === "object" && v.detail !== null && typeof v.row === "object" && v.row !== null && Array.isArray(v.row.cols);
}

/** The Exchange a parsed record line holds (what the store would give back for its rows, without an id). */
export function fromRecordLine(v: RecordLineValue): Exchange {
  const p = v.row.cols;
  const c: ExchangeColumns = {
    id: undefined as unknown as number,
    started_at: p[0] as number, method: p[1] as string, path: p[2] as string, query: p[3] as string, verb: p[4] as string,
    api_group: p[5] as string, api_version: p[6] as string, resource: p[7] as string, subresource: p[8] as string,
    namespace: p[9] as string, name: p[10] as string, status: p[11] as number | null, duration_ms: p[12] as number,
    error_code: p[13] as string | null, error_message: p[14] as string | null, context: p[15] as string,
    cluster_url: p[16] as string, kube_user: p[17] as string, user_agent: p[18] as string, client_address: p[19] as string,
    bytes_in: p[20] as number, bytes_out: p[21] as number, origin: p[22] as string, replay_of: p[23] as number | null,
    watch_error_code: p[24] as number | null, tls_chain_id: null, source_id: 0,
    repeat_count: v.row.repeat?.count ?? 1, last_seen_at: v.row.repeat ? v.row.repeat.lastSeenAt : null,
  };
  const s = v.row.source;
  const source = s ? sourceFrom({ host: s[0]!, run: s[1]!, pod: s[2]!, namespace: s[3]!, service_account: s[4]! }) : undefined;
  const ex = exchangeFrom(c, v.detail, v.chain, source);
  delete (ex as Partial<Exchange>).id;
  return ex;
}

/** Builds the full Exchange back from its columns, detail JSON, (shared) chain and source. */
export function toExchange(c: ExchangeColumns, detailText: string, chain: CertInfo[] | null, source?: ExchangeSource): Exchange {
  return exchangeFrom(c, JSON.parse(detailText) as Detail, chain, source);
}

function exchangeFrom(c: ExchangeColumns, d: Detail, chain: CertInfo[] | null, source?: ExchangeSource): Exchange {
  const src = d.serviceAccount && !source?.serviceAccount ? { ...source, serviceAccount: d.serviceAccount } : source;
  const error: Exchange["error"] =
    c.error_code === null ? null : { code: c.error_code, message: c.error_message ?? "" };
  if (error && d.errorPhase !== undefined) error.phase = d.errorPhase;
  if (error && d.errorProxy !== undefined) error.proxy = d.errorProxy;
  return {
    id: c.id,
    startedAt: c.started_at,
    origin: c.origin as Exchange["origin"],
    replayOf: c.replay_of,
    client: { address: c.client_address, userAgent: c.user_agent },
    context: c.context,
    clusterUrl: c.cluster_url,
    kubeUser: c.kube_user,
    ...(d.kubeCluster ? { kubeCluster: d.kubeCluster } : {}),
    request: {
      method: c.method,
      path: c.path,
      query: c.query,
      headers: d.requestHeaders,
      body: d.requestBody,
      bytes: c.bytes_in,
      ...(d.requestWireBytes !== undefined ? { wireBytes: d.requestWireBytes } : {}),
    },
    info: {
      isResourceRequest: d.isResourceRequest,
      verb: c.verb,
      apiPrefix: d.apiPrefix,
      apiGroup: c.api_group,
      apiVersion: c.api_version,
      namespace: c.namespace,
      resource: c.resource,
      subresource: c.subresource,
      name: c.name,
    },
    response:
      c.status === null || d.response === null
        ? null
        : { status: c.status, headers: d.response.headers, body: d.response.body, bytes: c.bytes_out, ...(d.response.wireBytes !== undefined ? { wireBytes: d.response.wireBytes } : {}) },
    timing: d.timing,
    tls: d.tls ? { ...d.tls, chain: chain ?? [] } : null,
    error,
    ...(d.proxyAnswer ? { proxyAnswer: d.proxyAnswer } : {}),
    stream: d.stream,
    ...(d.impersonation ? { impersonation: d.impersonation } : {}),
    ...(c.last_seen_at === null || c.last_seen_at === undefined ? {} : { repeat: { count: c.repeat_count, lastSeenAt: c.last_seen_at } }),
    ...(src ? { source: src } : {}),
    ...(d.protocol ? { protocol: d.protocol } : {}),
    ...(d.connection ? { connection: d.connection } : {}),
    ...(d.injected ? { injected: d.injected } : {}),
  };
}

export function toExchangeRow(c: ExchangeColumns & { flags: string | null }, source?: ExchangeSource): ExchangeRow {
  return {
    id: c.id,
    time: new Date(c.started_at).toISOString(),
    method: c.method,
    path: c.path,
    query: c.query,
    verb: c.verb,
    group: c.api_group,
    version: c.api_version,
    resource: c.resource,
    subresource: c.subresource,
    namespace: c.namespace,
    name: c.name,
    status: c.status,
    durationMs: c.duration_ms,
    error: c.error_code === null ? null : { code: c.error_code, message: c.error_message ?? "" },
    context: c.context,
    userAgent: c.user_agent,
    bytesIn: c.bytes_in,
    bytesOut: c.bytes_out,
    flags: c.flags ? c.flags.split(FLAG_SEPARATOR).sort() : [],
    origin: c.origin,
    replayOf: c.replay_of,
    ...(c.last_seen_at === null || c.last_seen_at === undefined ? {} : { repeat: { count: c.repeat_count, lastSeen: new Date(c.last_seen_at).toISOString() } }),
    ...(source ? { source } : {}),
  };
}

/** Joins flag kinds in one column (group_concat); a control character no kind contains. */
export const FLAG_SEPARATOR = "\u001f";

/**
 * The row mapping as JavaScript source, for the writer threads (SQLite and PostgreSQL) that run it: each
 * function by the name its callers use (they use nothing outside one another), and UNKNOWN_SOURCE_ID.
 */
export const ROW_MAPPING_SOURCE = [
  `const exchangeParams = ${exchangeParams.toString()};`,
  `const detailJson = ${detailJson.toString()};`,
  `const chainFingerprint = ${chainFingerprint.toString()};`,
  `const recordLineParts = ${recordLineParts.toString()};`,
  `const rowValues = ${rowValues.toString()};`,
  `const UNKNOWN_SOURCE_ID = ${UNKNOWN_SOURCE_ID};`,
].join("\n");
