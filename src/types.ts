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
  /** bytes actually seen on the wire (may exceed what was captured) */
  size: number;
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
  bytes: number;
}

export interface ResponseInfo {
  status: number;
  headers: Headers;
  body: CapturedBody | null;
  bytes: number;
  /** true when kubewire itself produced the answer (upstream failure, proxy auth) */
  fromProxy: boolean;
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
}

export interface StreamInfo {
  kind: "watch" | "upgrade" | "stream";
  /** watch events seen (one JSON object per line) */
  events: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  endedBy: "client" | "server" | "proxy";
}

export interface Exchange {
  /** assigned by the store */
  id?: number;
  /** epoch milliseconds when the request arrived */
  startedAt: number;
  origin: "proxy" | "replay" | "doctor" | "import";
  replayOf?: number | null;
  client: { address: string; userAgent: string };
  context: string;
  clusterUrl: string;
  kubeUser: string;
  request: RequestRecord;
  info: RequestInfo;
  response: ResponseInfo | null;
  timing: Timing;
  tls: TlsSession | null;
  error: ExchangeError | null;
  stream: StreamInfo | null;
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
}

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}
