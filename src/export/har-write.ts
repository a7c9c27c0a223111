// Writing HAR 1.2: an Exchange as a HAR entry (timings from the recorded phases, bodies as captured,
// protobuf shown as its field tree with the bytes kept under "_kubewire", credentials redacted, the rest
// under "_kubewire"). A failure without a response is status 0 with _error, as mitmproxy writes it.
import { hostOf } from "../url.js";
import { isIP } from "node:net";
import { STATUS_CODES } from "node:http";
import { header } from "../analyze/lib/util.js";
import { redactHeaders } from "../proxy/redact.js";
import { protobufText } from "../proxy/protobuf.js";
import type { CapturedBody, Exchange, Headers, Timing } from "../types.js";
import type { BodyMeta, HarEntry, HarNameValue, HarTimings } from "./har-types.js";

export { HAR_VERSION } from "./har-types.js";

const ms = (v: number) => Math.round(v * 1000) / 1000;

function toNameValues(h: Headers): HarNameValue[] {
  const out: HarNameValue[] = [];
  for (const [name, value] of Object.entries(redactHeaders(h))) {
    for (const v of Array.isArray(value) ? value : [value]) out.push({ name, value: v });
  }
  return out;
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
  const host = hostOf(ex.clusterUrl, "");
  if (host && isIP(host)) entry.serverIPAddress = host;
  if (ex.error) entry.comment = `${ex.error.code}${ex.error.phase ? ` (${ex.error.phase})` : ""}: ${ex.error.message}${ex.proxyAnswer ? `; kubewire answered the client ${ex.proxyAnswer.status}` : ""}`;
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
    ...(ex.proxyAnswer ? { proxyAnswer: ex.proxyAnswer } : {}),
    ...(ex.injected ? { injected: ex.injected } : {}),
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
    _transferSize: 0,
  };
}

/** HAR's httpVersion for the ALPN protocol a leg spoke (HTTP/1.1 when unknown, as before). */
function harVersion(alpn: string | undefined): string {
  return alpn === "h2" ? "HTTP/2.0" : "HTTP/1.1";
}
