// Reading HAR 1.2 (a kubewire export, a browser's or another proxy's): an entry back as an Exchange,
// credentials redacted as the proxy would. Status 0 is no response (its _error the error); a kubewire
// export's "_kubewire" block is checked field by field (har-extra-shape.ts) before it is trusted.
import { header } from "../analyze/lib/util.js";
import { UserError } from "../errors.js";
import { REDACTED, redactBody, redactHeaders } from "../proxy/redact.js";
import { parseRequestInfo } from "../proxy/request-info.js";
import type { CapturedBody, Exchange, ExchangeSource, Headers, RequestInfo, Timing } from "../types.js";
import { checkExtra } from "./har-extra-shape.js";
import type { BodyMeta, HarEntry, HarNameValue, HarTimings, KubewireExtra } from "./har-types.js";

const ms = (v: number) => Math.round(v * 1000) / 1000;

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

/** The entry's "_kubewire" block, shape-checked; null when there is none (a HAR from elsewhere). */
function extraOf(entry: Record<string, unknown>, where: string): KubewireExtra | null {
  if (entry._kubewire === undefined) return null;
  const checked = checkExtra(entry._kubewire);
  if (!checked.ok) throw new UserError(`${where}: ${checked.reason}`, "the entry's _kubewire block was changed by hand or by another tool: remove the block to import the entry as a plain HAR entry");
  return checked.extra;
}

/** The HAR response's status: a number from 100 to 999, or 0 for none (HAR writes no response as 0). */
function statusOf(res: Record<string, unknown> | undefined, where: string): number {
  const status = res?.status;
  if (status === undefined || status === null || status === 0 || status === -1) return 0;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 999) throw new UserError(`${where}: response.status ${JSON.stringify(status)} is not an HTTP status code (or 0 for no response)`);
  return status;
}

/** A HAR entry (from kubewire, a browser or another proxy) as an imported Exchange; `where` names it in errors. */
export function fromHarEntry(raw: unknown, where: string): Exchange {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new UserError(`${where} is not an object`);
  const entry = raw as Record<string, any>;
  const rq = entry.request;
  if (!rq || typeof rq.url !== "string" || typeof rq.method !== "string") throw new UserError(`${where} has no request with a method and url`);
  const url = splitRawUrl(rq.url);
  if (!url) throw new UserError(`${where}: request url ${JSON.stringify(rq.url)} is not an absolute URL`);
  const startedAt = Date.parse(String(entry.startedDateTime));
  if (Number.isNaN(startedAt)) throw new UserError(`${where}: startedDateTime ${JSON.stringify(entry.startedDateTime)} is not a time`);
  const k = extraOf(entry, where);
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
  const res = (typeof entry.response === "object" && entry.response !== null ? entry.response : undefined) as Record<string, any> | undefined;
  const status = statusOf(res, where);
  let response: Exchange["response"] = null;
  if (res && status > 0) {
    const headers = fromNameValues(res.headers);
    const content = (typeof res.content === "object" && res.content !== null ? res.content : {}) as HarEntry["response"]["content"];
    const text = typeof content.text === "string" ? content.text : undefined;
    const size = typeof content.size === "number" ? content.size : -1;
    const body = redacted(capturedFrom(text, content.encoding === "base64", k?.responseBody, size), info, typeof content.mimeType === "string" ? content.mimeType : undefined);
    const bytes = k?.responseBytes ?? (typeof res.bodySize === "number" && res.bodySize >= 0 ? res.bodySize : size >= 0 ? size : (body?.size ?? 0));
    response = { status, headers, body, bytes };
    if (k?.responseWireBytes !== undefined) response.wireBytes = k.responseWireBytes;
  }
  let error = k ? k.error : null;
  if (!k && !response) {
    error = { code: "NO_RESPONSE", message: typeof res?._error === "string" && res._error ? res._error : "the HAR entry has no response" };
  }
  let proxyAnswer = k?.proxyAnswer;
  if (k?.fromProxy && response && error && !k.injected) {
    // an export made before kubewire kept its own answers apart: the "response" was kubewire's answer
    proxyAnswer = { status: response.status, headers: response.headers, body: response.body ?? { data: "", encoding: "utf8", truncated: false, size: 0 } };
    response = null;
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
    ...(proxyAnswer ? { proxyAnswer: { ...proxyAnswer, headers: redactHeaders(proxyAnswer.headers) } } : {}),
    stream: k?.stream ?? null,
    ...(k?.protocol ? { protocol: k.protocol } : {}),
    ...(k?.connection ? { connection: k.connection } : {}),
    ...(k?.injected ? { injected: k.injected } : {}),
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
