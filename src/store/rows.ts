// Mapping between an Exchange and its rows: the narrow `exchanges` columns, the JSON
// detail (headers, bodies, timing, TLS session, stream) and the stable ExchangeRow shape.
import type { CapturedBody, CertInfo, Exchange, Headers, StreamInfo, Timing } from "../types.js";

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
}

/** Everything of an Exchange that has no column, stored as JSON in exchange_details. */
interface Detail {
  isResourceRequest: boolean;
  apiPrefix: string;
  requestHeaders: Headers;
  requestBody: CapturedBody | null;
  response: { headers: Headers; body: CapturedBody | null; fromProxy: boolean } | null;
  timing: Timing;
  tls: { protocol: string | null; cipher: string | null; alpn: string | null; resumed: boolean } | null;
  errorPhase?: string;
  stream: StreamInfo | null;
  /** a kubewire fault rule acted on this exchange */
  injected?: { rule: string; action: string };
}

export const INSERT_DETAIL_SQL = "INSERT INTO exchange_details (exchange_id, detail) VALUES (?, ?)";
export const INSERT_CHAIN_SQL = "INSERT INTO tls_chains (fingerprint, chain) VALUES (?, ?) ON CONFLICT (fingerprint) DO NOTHING";
export const SELECT_CHAIN_ID_SQL = "SELECT id FROM tls_chains WHERE fingerprint = ?";

/** The dedup key of a chain: its certificates' SHA-256s, leaf first. */
export function chainFingerprint(chain: CertInfo[]): string {
  return chain.map((c) => c.sha256 || JSON.stringify(c)).join(",");
}

export const INSERT_EXCHANGE_SQL = `INSERT INTO exchanges (started_at, method, path, query, verb, api_group, api_version,
  resource, subresource, namespace, name, status, duration_ms, error_code, error_message, context, cluster_url, kube_user,
  user_agent, client_address, bytes_in, bytes_out, origin, replay_of, tls_chain_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Bound parameters for INSERT_EXCHANGE_SQL, in column order (tls_chain_id last). */
export function exchangeParams(ex: Exchange, tlsChainId: number | null): unknown[] {
  const { request: rq, info } = ex;
  return [
    ex.startedAt, rq.method, rq.path, rq.query, info.verb, info.apiGroup, info.apiVersion,
    info.resource, info.subresource, info.namespace, info.name, ex.response ? ex.response.status : null,
    ex.timing.totalMs, ex.error ? ex.error.code : null, ex.error ? ex.error.message : null,
    ex.context, ex.clusterUrl, ex.kubeUser, ex.client.userAgent, ex.client.address,
    rq.bytes, ex.response ? ex.response.bytes : 0, ex.origin, ex.replayOf ?? null, tlsChainId,
  ];
}

export function detailJson(ex: Exchange): string {
  const detail: Detail = {
    isResourceRequest: ex.info.isResourceRequest,
    apiPrefix: ex.info.apiPrefix,
    requestHeaders: ex.request.headers,
    requestBody: ex.request.body,
    response: ex.response
      ? { headers: ex.response.headers, body: ex.response.body, fromProxy: ex.response.fromProxy }
      : null,
    timing: ex.timing,
    tls: ex.tls
      ? { protocol: ex.tls.protocol, cipher: ex.tls.cipher, alpn: ex.tls.alpn, resumed: ex.tls.resumed }
      : null,
    stream: ex.stream,
  };
  if (ex.error?.phase !== undefined) detail.errorPhase = ex.error.phase;
  if (ex.injected) detail.injected = ex.injected;
  return JSON.stringify(detail);
}

/** Builds the full Exchange back from its columns, detail JSON and (shared) chain. */
export function toExchange(c: ExchangeColumns, detailText: string, chain: CertInfo[] | null): Exchange {
  const d = JSON.parse(detailText) as Detail;
  const error: Exchange["error"] =
    c.error_code === null ? null : { code: c.error_code, message: c.error_message ?? "" };
  if (error && d.errorPhase !== undefined) error.phase = d.errorPhase;
  return {
    id: c.id,
    startedAt: c.started_at,
    origin: c.origin as Exchange["origin"],
    replayOf: c.replay_of,
    client: { address: c.client_address, userAgent: c.user_agent },
    context: c.context,
    clusterUrl: c.cluster_url,
    kubeUser: c.kube_user,
    request: {
      method: c.method,
      path: c.path,
      query: c.query,
      headers: d.requestHeaders,
      body: d.requestBody,
      bytes: c.bytes_in,
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
        : { status: c.status, headers: d.response.headers, body: d.response.body, bytes: c.bytes_out, fromProxy: d.response.fromProxy },
    timing: d.timing,
    tls: d.tls ? { ...d.tls, chain: chain ?? [] } : null,
    error,
    stream: d.stream,
    ...(d.injected ? { injected: d.injected } : {}),
  };
}

export function toExchangeRow(c: ExchangeColumns & { flags: string | null }): ExchangeRow {
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
  };
}

/** Joins flag kinds in one column (group_concat); a control character no kind contains. */
export const FLAG_SEPARATOR = "\u001f";
