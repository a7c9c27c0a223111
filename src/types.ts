// The domain types every stage of the pipeline passes along: one Exchange per
// request, built by the proxy, written by the recorder, read by the analyzers.

/** The Kubernetes request info, derived from method, path and query as kube-apiserver does. */
export interface RequestInfo {
  isResourceRequest: boolean;
  /** get, list, watch, create, update, patch, delete, deletecollection, proxy; or the lower-case HTTP method for non-resource paths */
  verb: string;
  /** "api" or "apis" for resource requests, "" otherwise */
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  resource: string;
  subresource: string;
  name: string;
}

/** A body as captured: bounded, possibly truncated, secrets redacted. */
export interface CapturedBody {
  /** utf8 text, or base64 when encoding is "base64" */
  data: string;
  encoding: "utf8" | "base64";
  /** true when the body was longer than the capture limit */
  truncated: boolean;
  /** bytes of the body as the client reads it, decoded when it had a Content-Encoding (may exceed what was captured) */
  size: number;
  /** the Content-Encoding (gzip, deflate) the body was decoded from; absent when it travelled as is */
  contentEncoding?: string;
  /** true when decoding stopped (decompression ceiling reached, or a corrupt stream): size is then a lower bound */
  sizeIsLowerBound?: boolean;
}

export type Headers = Record<string, string | string[]>;

export interface RequestRecord {
  method: string;
  /** path without the query string */
  path: string;
  /** raw query string without "?", "" when none */
  query: string;
  headers: Headers;
  body: CapturedBody | null;
  /** body bytes as the server reads them (decoded when the request had a Content-Encoding) */
  bytes: number;
  /** body bytes as sent on the wire (differs from bytes only for an encoded body) */
  wireBytes?: number;
}

export interface ResponseInfo {
  status: number;
  headers: Headers;
  body: CapturedBody | null;
  /** body bytes as the client reads them: decoded when the response had a Content-Encoding (gzip, deflate) */
  bytes: number;
  /** body bytes as sent on the wire (compressed when the response had a Content-Encoding) */
  wireBytes?: number;
}

/**
 * What kubewire itself wrote to the client in place of an answer from the API server: its `kubewire:`
 * 502 for an upstream it could not reach, its 401 for a client without the proxy token, a 400/431 for a
 * request Node refused. Kept beside `error`, never as the response: the API server did not answer.
 */
export interface ProxyAnswer {
  status: number;
  headers: Headers;
  body: CapturedBody;
}

export interface Timing {
  dnsMs: number;
  connectMs: number;
  tlsMs: number;
  /** from the start of the request to the first byte of the response head */
  ttfbMs: number;
  totalMs: number;
  /** true when an existing upstream connection was reused (dns/connect/tls are then 0) */
  reusedConnection: boolean;
}

export interface CertInfo {
  subject: string;
  issuer: string;
  san: string[];
  notBefore: string;
  notAfter: string;
  serial: string;
  sha256: string;
}

export interface TlsSession {
  protocol: string | null;
  cipher: string | null;
  alpn: string | null;
  /** true when the TLS session was resumed from a cache */
  resumed: boolean;
  /** leaf first */
  chain: CertInfo[];
}

export interface ExchangeError {
  /** CERT_HAS_EXPIRED, ECONNREFUSED, ENOTFOUND, ETIMEDOUT, CLIENT_ABORTED, PROXY_AUTH, CLIENT_TLS, ... */
  code: string;
  message: string;
  /** where it happened: dns, connect, tls, headers, body, client */
  phase?: string;
  /** set when the failure was reaching the kubeconfig's proxy-url (scheme://host:port, no credentials), not the API server */
  proxy?: string;
}

/** The Status of a watch's ERROR event (for example 410 Expired when the resourceVersion is too old). */
export interface WatchError {
  code: number;
  reason: string;
  message: string;
}

export interface StreamInfo {
  kind: "watch" | "upgrade" | "stream";
  /** watch events seen (one JSON object per line, or one length-prefixed protobuf frame); lines for other streams */
  events: number;
  /** watch events by type: ADDED, MODIFIED, DELETED, BOOKMARK, ERROR (counted past the capture limit too) */
  eventTypes?: Record<string, number>;
  /** the last ERROR event's Status (kept past the capture limit too) */
  lastError?: WatchError;
  /** how the watch events were framed: JSON lines or protobuf frames */
  format?: "json" | "protobuf";
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  endedBy: "client" | "server" | "proxy";
}

/** The HTTP version each leg spoke, by ALPN: "h2" or "http/1.1" ("" when the request never reached that leg). */
export interface WireProtocol {
  client: string;
  upstream: string;
}

/** Which connection (and stream on it) a request rode on each leg, so requests that shared one can be told. */
export interface WireConnection {
  /** the client's connection to kubewire: an id numbered per run; the HTTP/2 stream id, or for HTTP/1.1 the request's ordinal on that connection */
  client: { id: number; stream: number };
  /** kubewire's connection (HTTP/2 session or HTTP/1.1 socket) to the API server, numbered the same way; null when none was used */
  upstream: { id: number; stream: number } | null;
}

/**
 * Where an exchange was recorded, each part only when known: what tells apart the recordings of
 * several machines, runs and pods kept in one store (`ls --source`).
 */
export interface ExchangeSource {
  /** os.hostname() of the machine (or pod) kubewire ran on; "import" for an imported HAR that did not say */
  host?: string;
  /** the recording run: a short random id made when `start`, `exec`, `replay` or `doctor` began */
  run?: string;
  /** in-cluster: the pod kubewire ran in (POD_NAME, else HOSTNAME) and its namespace */
  pod?: string;
  namespace?: string;
  /** in-cluster: the service account whose token the client sent (system:serviceaccount:NS:NAME), read from the token's claims; never the token */
  serviceAccount?: string;
}

export interface Exchange {
  /** assigned by the store */
  id?: number;
  /** epoch milliseconds when the request arrived */
  startedAt: number;
  origin: "proxy" | "replay" | "doctor" | "import";
  replayOf?: number | null;
  client: { address: string; userAgent: string };
  /** the kubeconfig context naming this (cluster, user) pair: the current one when it does, else the first; "" when none does */
  context: string;
  clusterUrl: string;
  kubeUser: string;
  /** the kubeconfig cluster entry the request went to (kubeUser is the user entry) */
  kubeCluster?: string;
  request: RequestRecord;
  info: RequestInfo;
  response: ResponseInfo | null;
  timing: Timing;
  tls: TlsSession | null;
  error: ExchangeError | null;
  /** set with `error` when kubewire answered the client itself (response is then null) */
  proxyAnswer?: ProxyAnswer;
  stream: StreamInfo | null;
  /** impersonation kubewire added upstream from the kubeconfig user (as, as-uid, as-groups, as-user-extra keys): names, never credentials */
  impersonation?: { user: string; uid?: string; groups?: string[]; extra?: string[] };
  /**
   * Set on an aggregated row (requests without the proxy token): `count` requests from this client
   * address in the minute of startedAt, the last at lastSeenAt; the rest of the row is the first one's.
   */
  repeat?: { count: number; lastSeenAt: number };
  /** where it was recorded (absent when nothing is known: records made before sources were kept) */
  source?: ExchangeSource;
  /** HTTP version on each leg (absent in records made before kubewire spoke HTTP/2) */
  protocol?: WireProtocol;
  connection?: WireConnection;
  /** set when a kubewire fault rule acted on this exchange on purpose (src/fault) */
  injected?: { rule: string; action: string } | null;
}

export type Severity = "error" | "warning" | "info";

/** One kind of problem found across recorded exchanges. */
export interface Finding {
  kind: string;
  severity: Severity;
  count: number;
  firstSeen: string;
  lastSeen: string;
  requestIds: number[];
  message: string;
  evidence: string[];
  advice: string[];
  /** where the exchanges were recorded: set (by flags) only when the store holds more than one source; unknown as {} */
  sources?: ExchangeSource[];
}

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}
