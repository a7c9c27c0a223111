// HAR 1.2 mapping both ways: an Exchange as a HAR entry (timings from the recorded phases,
// bodies as captured (protobuf shown as its field tree, the bytes kept under "_kubewire"), credentials
// redacted, the rest under "_kubewire") and a HAR entry back.
import { isIP } from "node:net";
import { STATUS_CODES } from "node:http";
import { header } from "../analyze/lib/util.js";
import { UserError } from "../errors.js";
import { REDACTED, redactBody, redactHeaders } from "../proxy/redact.js";
import { protobufText } from "../proxy/protobuf.js";
import { parseRequestInfo } from "../proxy/request-info.js";
import type { CapturedBody, Exchange, ExchangeSource, Headers, RequestInfo, Timing } from "../types.js";

export interface HarNameValue {
  name: string;
  value: string;
}

export interface HarTimings {
  blocked?: number;
  dns?: number;
  connect?: number;
  send: number;
  wait: number;
  receive: number;
  ssl?: number;
}

export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    cookies: unknown[];
    headers: HarNameValue[];
    queryString: HarNameValue[];
    postData?: { mimeType: string; text?: string; comment?: string; _encoding?: string };
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    cookies: unknown[];
    headers: HarNameValue[];
    content: { size: number; compression?: number; mimeType: string; text?: string; encoding?: string; comment?: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
    _error?: string;
  };
  cache: Record<string, never>;
  timings: HarTimings;
  serverIPAddress?: string;
  comment?: string;
  _kubewire?: KubewireExtra;
}

/** What a HAR entry cannot say by itself, kept so that an export re-imports to the same exchange. */
interface KubewireExtra {
  version: 1;
  id: number | null;
  origin: string;
  replayOf: number | null;
  context: string;
  clusterUrl: string;
  kubeUser: string;
  kubeCluster?: string;
  client: Exchange["client"];
  info: RequestInfo;
  timing: Timing;
  tls: Exchange["tls"];
  error: Exchange["error"];
  stream: Exchange["stream"];
  protocol?: Exchange["protocol"];
  connection?: Exchange["connection"];
  /** where it was recorded (host, run, pod, namespace, serviceAccount), when known */
  source?: ExchangeSource;
  requestBytes: number;
  requestBody: BodyMeta | null;
  responseBody: BodyMeta | null;
  fromProxy: boolean;
  /** decoded response body bytes (HAR's bodySize holds the bytes as sent) */
  responseBytes?: number;
  responseWireBytes?: number;
  requestWireBytes?: number;
}

type BodyMeta = Pick<CapturedBody, "encoding" | "truncated" | "size" | "contentEncoding" | "sizeIsLowerBound"> & { protobuf?: string };

export const HAR_VERSION = "1.2";

const ms = (v: number) => Math.round(v * 1000) / 1000;

function toNameValues(h: Headers): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (const [name, value] of Object.entries(redactHeaders(h))) {
    for (const v of Array.isArray(value) ? value : [value]) out.push({ name, value: v });
  }
  return out;
}

function fromNameValues(list: unknown): Headers {
  const out: Headers = {};
  if (!Array.isArray(list)) return out;
  for (const item of list as Partial<HarNameValue>[]) {
    if (!item || typeof item.name !== "string" || item.name.startsWith(":")) continue; // HTTP/2 pseudo-headers
    const name = item.name.toLowerCase();
    const value = String(item.value ?? "");
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return redactHeaders(out);
}

function bodyMeta(b: CapturedBody | null, tree: string | null): BodyMeta | null {
  if (!b) return null;
  const meta: BodyMeta = { encoding: b.encoding, truncated: b.truncated, size: b.size };
  if (b.contentEncoding !== undefined) meta.contentEncoding = b.contentEncoding;
  if (b.sizeIsLowerBound !== undefined) meta.sizeIsLowerBound = b.sizeIsLowerBound;
  if (tree !== null) {
    meta.encoding = "base64";
    meta.protobuf = b.encoding === "base64" ? b.data : Buffer.from(b.data, "utf8").toString("base64");
  }
  return meta;
}

/** The text a HAR viewer shows for a body: a protobuf body as its field tree, any other as captured. */
function harText(b: CapturedBody, tree: string | null): { text: string; base64: boolean } {
  return tree !== null ? { text: tree, base64: false } : { text: b.data, base64: b.encoding === "base64" };
}

/** dns, connect (TLS included, as HAR wants), ssl, wait and receive from the recorded phases. */
function harTimings(t: Timing): { timings: HarTimings; time: number } {
  const reused = t.reusedConnection;
  const dns = reused ? -1 : ms(t.dnsMs);
  const connect = reused ? -1 : ms(t.connectMs + t.tlsMs);
  const ssl = reused ? -1 : ms(t.tlsMs);
  const before = Math.max(0, dns) + Math.max(0, connect);
  const wait = ms(Math.max(0, t.ttfbMs - before));
  const receive = ms(Math.max(0, t.totalMs - Math.max(t.ttfbMs, before)));
  const timings: HarTimings = { blocked: -1, dns, connect, send: 0, wait, receive, ssl };
  return { timings, time: ms(Math.max(0, dns) + Math.max(0, connect) + wait + receive) };
}

function timingFromHar(t: Partial<HarTimings> | undefined, time: number): Timing {
  const n = (v: unknown) => (typeof v === "number" && v > 0 ? v : 0);
  const ssl = n(t?.ssl);
  const connect = n(t?.connect);
  const ttfb = n(t?.blocked) + n(t?.dns) + connect + n(t?.send) + n(t?.wait);
  return {
    dnsMs: n(t?.dns),
    connectMs: Math.max(0, connect - ssl),
    tlsMs: ssl,
    ttfbMs: ms(ttfb),
    totalMs: ms(Math.max(time, ttfb)),
    reusedConnection: typeof t?.connect === "number" && t.connect < 0,
  };
}

function urlOf(ex: Exchange): string {
  return `${ex.clusterUrl}${ex.request.path}${ex.request.query ? `?${ex.request.query}` : ""}`;
}

function queryString(query: string): HarNameValue[] {
  return [...new URLSearchParams(query)].map(([name, value]) => ({ name, value }));
}

/** One exchange as a HAR entry; null when it holds no request at all (a failed client handshake). */
export function toHarEntry(ex: Exchange): HarEntry | null {
  if (!ex.request.method) return null;
  const { timings, time } = harTimings(ex.timing);
  const rq = ex.request;
  const reqBody = rq.body;
  const reqTree = protobufText(reqBody, header(rq.headers, "content-type"));
  const resTree = protobufText(ex.response?.body ?? null, ex.response ? header(ex.response.headers, "content-type") : undefined);
  const entry: HarEntry = {
    startedDateTime: new Date(ex.startedAt).toISOString(),
    time,
    request: {
      method: rq.method,
      url: urlOf(ex),
      httpVersion: harVersion(ex.protocol?.client),
      cookies: [],
      headers: toNameValues(rq.headers),
      queryString: queryString(rq.query),
      headersSize: -1,
      bodySize: rq.wireBytes ?? rq.bytes,
    },
    response: noResponse(),
    cache: {},
    timings,
  };
  if (reqBody) {
    const shown = harText(reqBody, reqTree);
    entry.request.postData = { mimeType: header(rq.headers, "content-type") ?? "application/octet-stream", text: shown.text };
    if (shown.base64) entry.request.postData._encoding = "base64";
    if (reqBody.truncated) entry.request.postData.comment = `truncated at capture: ${reqBody.size} bytes on the wire`;
  }
  const res = ex.response;
  if (res) {
    const body = res.body;
    entry.response = {
      status: res.status,
      statusText: STATUS_CODES[res.status] ?? "",
      httpVersion: harVersion(ex.protocol?.upstream),
      cookies: [],
      headers: toNameValues(res.headers),
      content: { size: body?.size ?? res.bytes, mimeType: header(res.headers, "content-type") ?? "x-unknown" },
      redirectURL: header(res.headers, "location") ?? "",
      headersSize: -1,
      // HAR: bodySize is what came on the wire, content.size the decoded body, compression the difference
      bodySize: res.wireBytes ?? res.bytes,
    };
    if (res.wireBytes !== undefined && res.bytes > res.wireBytes) entry.response.content.compression = res.bytes - res.wireBytes;
    if (body) {
      const shown = harText(body, resTree);
      entry.response.content.text = shown.text;
      if (shown.base64) entry.response.content.encoding = "base64";
      if (body.truncated) entry.response.content.comment = `truncated at capture: ${body.size} bytes on the wire`;
    }
  }
  if (ex.error) entry.response._error = `${ex.error.code}: ${ex.error.message}`;
  const host = hostOf(ex.clusterUrl);
  if (host && isIP(host)) entry.serverIPAddress = host;
  if (ex.error) entry.comment = `${ex.error.code}${ex.error.phase ? ` (${ex.error.phase})` : ""}: ${ex.error.message}`;
  entry._kubewire = {
    version: 1,
    id: ex.id ?? null,
    origin: ex.origin,
    replayOf: ex.replayOf ?? null,
    context: ex.context,
    clusterUrl: ex.clusterUrl,
    kubeUser: ex.kubeUser,
    ...(ex.kubeCluster ? { kubeCluster: ex.kubeCluster } : {}),
    client: ex.client,
    info: ex.info,
    timing: ex.timing,
    tls: ex.tls,
    error: ex.error,
    stream: ex.stream,
    ...(ex.protocol ? { protocol: ex.protocol } : {}),
    ...(ex.connection ? { connection: ex.connection } : {}),
    ...(ex.source ? { source: ex.source } : {}),
    requestBytes: rq.bytes,
    requestBody: bodyMeta(reqBody, reqTree),
    responseBody: bodyMeta(res?.body ?? null, resTree),
    fromProxy: res?.fromProxy ?? false,
    ...(res ? { responseBytes: res.bytes } : {}),
    ...(res?.wireBytes !== undefined ? { responseWireBytes: res.wireBytes } : {}),
    ...(rq.wireBytes !== undefined ? { requestWireBytes: rq.wireBytes } : {}),
  };
  return entry;
}

function noResponse(): HarEntry["response"] {
  return {
    status: 0,
    statusText: "",
    httpVersion: "",
    cookies: [],
    headers: [],
    content: { size: 0, mimeType: "x-unknown" },
    redirectURL: "",
    headersSize: -1,
    bodySize: -1,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "";
  }
}

/** scheme://authority, path and raw query of a URL, without re-encoding anything. */
function splitRawUrl(url: string): { origin: string; path: string; query: string } | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*)([^?#]*)(?:\?([^#]*))?/.exec(url);
  if (!m) return null;
  return { origin: m[1], path: m[2] || "/", query: m[3] ?? "" };
}

function capturedFrom(text: string | undefined, base64: boolean, meta: BodyMeta | null | undefined, fallbackSize: number): CapturedBody | null {
  if (meta?.protobuf) return { data: meta.protobuf, encoding: "base64", truncated: meta.truncated ?? false, size: meta.size ?? fallbackSize };
  if (text === undefined || text === "") return null;
  const encoding = meta?.encoding ?? (base64 ? "base64" : "utf8");
  const size = meta?.size ?? (fallbackSize >= 0 ? fallbackSize : Buffer.byteLength(text, encoding === "base64" ? "base64" : "utf8"));
  const body: CapturedBody = { data: text, encoding, truncated: meta?.truncated ?? false, size };
  if (meta?.contentEncoding !== undefined) body.contentEncoding = meta.contentEncoding;
  if (meta?.sizeIsLowerBound !== undefined) body.sizeIsLowerBound = meta.sizeIsLowerBound;
  return body;
}

/** Redacts an imported body as the proxy would; a body kubewire already replaced by a placeholder stays as it is. */
function redacted(body: CapturedBody | null, info: RequestInfo, mimeType: string | undefined): CapturedBody | null {
  if (body && body.encoding === "utf8" && body.data.startsWith(`${REDACTED} (`)) return body;
  return redactBody(body, info, mimeType);
}

function extraOf(entry: Record<string, any>): KubewireExtra | null {
  const k = entry._kubewire;
  return k && typeof k === "object" && k.version === 1 ? (k as KubewireExtra) : null;
}

/** A HAR entry (from kubewire, a browser or another proxy) as an imported Exchange; `where` names it in errors. */
export function fromHarEntry(raw: unknown, where: string): Exchange {
  const entry = raw as Record<string, any>;
  const rq = entry?.request;
  if (!rq || typeof rq.url !== "string" || typeof rq.method !== "string") throw new UserError(`${where} has no request with a method and url`);
  const url = splitRawUrl(rq.url);
  if (!url) throw new UserError(`${where}: request url ${JSON.stringify(rq.url)} is not an absolute URL`);
  const startedAt = Date.parse(String(entry.startedDateTime));
  if (Number.isNaN(startedAt)) throw new UserError(`${where}: startedDateTime ${JSON.stringify(entry.startedDateTime)} is not a time`);
  const k = extraOf(entry);
  if (k && k.clusterUrl && rq.url.startsWith(k.clusterUrl)) {
    // the cluster URL may carry a path prefix (for example a Rancher proxy): the request path follows it
    const rest = splitRawUrl(`x://h${rq.url.slice(k.clusterUrl.length)}`)!;
    url.path = rest.path;
    url.query = rest.query;
  }
  const method = rq.method.toUpperCase();
  const info = k?.info ?? parseRequestInfo(method, url.path, url.query);
  const reqHeaders = fromNameValues(rq.headers);
  const post = rq.postData as HarEntry["request"]["postData"] | undefined;
  const reqBody = redacted(capturedFrom(post?.text, post?._encoding === "base64", k?.requestBody, rq.bodySize), info, post?.mimeType);
  const res = entry.response as Record<string, any> | undefined;
  let response: Exchange["response"] = null;
  if (res && typeof res.status === "number" && res.status > 0) {
    const headers = fromNameValues(res.headers);
    const content = (res.content ?? {}) as HarEntry["response"]["content"];
    const body = redacted(capturedFrom(content.text, content.encoding === "base64", k?.responseBody, typeof content.size === "number" ? content.size : -1), info, content.mimeType);
    const bytes = k?.responseBytes ?? (typeof res.bodySize === "number" && res.bodySize >= 0 ? res.bodySize : (content.size ?? body?.size ?? 0));
    response = { status: res.status, headers, body, bytes, fromProxy: k?.fromProxy ?? false };
    if (k?.responseWireBytes !== undefined) response.wireBytes = k.responseWireBytes;
  }
  let error = k ? k.error : null;
  if (!k && !response) {
    error = { code: "NO_RESPONSE", message: typeof res?._error === "string" && res._error ? res._error : "the HAR entry has no response" };
  }
  const time = typeof entry.time === "number" ? entry.time : 0;
  return {
    startedAt,
    origin: "import",
    replayOf: null,
    client: k?.client ?? { address: "", userAgent: header(reqHeaders, "user-agent") ?? "" },
    context: k?.context ?? "",
    clusterUrl: k?.clusterUrl ?? url.origin,
    kubeUser: k?.kubeUser ?? "",
    ...(typeof k?.kubeCluster === "string" && k.kubeCluster ? { kubeCluster: k.kubeCluster } : {}),
    request: {
      method,
      path: url.path,
      query: url.query,
      headers: reqHeaders,
      body: reqBody,
      bytes: k?.requestBytes ?? (typeof rq.bodySize === "number" && rq.bodySize >= 0 ? rq.bodySize : (reqBody?.size ?? 0)),
      ...(k?.requestWireBytes !== undefined ? { wireBytes: k.requestWireBytes } : {}),
    },
    info,
    response,
    timing: k?.timing ?? timingFromHar(entry.timings, time),
    tls: k?.tls ?? null,
    error,
    stream: k?.stream ?? null,
    ...(k?.protocol ? { protocol: k.protocol } : {}),
    ...(k?.connection ? { connection: k.connection } : {}),
    source: importedSource(k?.source),
  };
}

const SOURCE_PARTS = ["host", "run", "pod", "namespace", "serviceAccount"] as const;

/** An imported entry keeps the source its kubewire export named (text parts only); any other is host "import". */
function importedSource(v: unknown): ExchangeSource {
  const s: ExchangeSource = {};
  if (v && typeof v === "object") {
    for (const key of SOURCE_PARTS) {
      const part = (v as Record<string, unknown>)[key];
      if (typeof part === "string" && part !== "") s[key] = part;
    }
  }
  return Object.keys(s).length ? s : { host: "import" };
}

/** HAR's httpVersion for the ALPN protocol a leg spoke (HTTP/1.1 when unknown, as before). */
function harVersion(alpn: string | undefined): string {
  return alpn === "h2" ? "HTTP/2.0" : "HTTP/1.1";
}
