// Forwards one ordinary HTTP request upstream, over HTTP/2 or HTTP/1.1 on each leg as the peers
// chose by ALPN (node:http2 / node:https and pipes), and builds its Exchange as it goes: request
// info, captured bodies, timing phases, TLS chain, both legs' protocol and connection, error.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ClientHttp2Stream, OutgoingHttpHeaders, Http2Session, ServerHttp2Stream } from "node:http2";
import https from "node:https";
import type { Readable } from "node:stream";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, UpstreamError, type ConnectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange, Headers, Timing } from "../types.js";
import { BodyCapture } from "./body-capture.js";
import { forwardedRequestHeaders, type ForwardRules } from "./headers.js";
import { answer, answerStream, noteFailure } from "./proxy-answer.js";
import { redactBody, redactHeaders, redactQuery } from "./redact.js";
import { originForm, parseRequestInfo } from "./request-info.js";
import { rawOf } from "./listener-guard.js";
import { copyHandshake, countUse, round, upstreamTarget } from "./upstream-target.js";
import type { H2Connection, Lease, UpstreamPool } from "./upstream-pool.js";
import { faultPipe } from "../fault/streams.js"; // fault:

export interface ExchangeSink {
  record(exchange: Exchange): void;
}

/** A request as either server API hands it over: HTTP/1.1 (node:http) or HTTP/2 (http2 compat). */
export type ClientRequestIn = IncomingMessage | Http2ServerRequest;
export type ClientResponseOut = ServerResponse | Http2ServerResponse;

/**
 * One client request as the forwarder drives it, whichever way it came: HTTP/1.1 (node:http's request and
 * response), HTTP/2 through the compatibility objects (only where a fault rule acts on the request), or an
 * HTTP/2 stream as node:http2 hands it over (every other HTTP/2 request: no compatibility objects, their
 * listeners and their copies per request).
 */
export interface ClientCall {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  /** the request body as it comes in */
  readonly body: Readable;
  /** the client's HTTP/2 stream (null over HTTP/1.1) */
  readonly stream: ServerHttp2Stream | null;
  /** the response object; null when the stream itself is answered (the stream API) */
  readonly res: ClientResponseOut | null;
  /** the client's socket (over HTTP/2, its session's) */
  readonly socket: object;
}

/** A request that came through node:http or the HTTP/2 compatibility API. */
export function compatCall(req: ClientRequestIn, res: ClientResponseOut): ClientCall {
  const stream = isH2(req) ? (req as Http2ServerRequest).stream : null;
  return { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, rawHeaders: req.rawHeaders, body: req, stream, res, socket: stream?.session?.socket ?? req.socket };
}

/** A request on an HTTP/2 stream, as the server's 'stream' event hands it over. */
export function streamCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], socket: object): ClientCall {
  return { method: (headers[":method"] as string | undefined) ?? "GET", url: (headers[":path"] as string | undefined) ?? "/", headers, rawHeaders, body: stream, stream, res: null, socket };
}

export interface ForwardOptions {
  upstream: Upstream;
  agent: UpstreamAgent;
  pool: UpstreamPool;
  sink: ExchangeSink;
  captureLimit: number;
  headersTimeoutMs: number;
  /** an HTTP/2 client's stream rode this upstream session (to pass its GOAWAY on) */
  rode?: (client: Http2Session, conn: H2Connection) => void;
}

const STREAMING_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);

/** Headers HTTP/2 forbids (RFC 9113 8.2.2): connection-specific, meaningful on one HTTP/1.1 hop only. */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "trailer"]);

export function emptyTiming(): Timing {
  return { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, totalMs: 0, reusedConnection: false };
}

export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  return q === -1 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** The request's headers as recorded: redacted, without HTTP/2 pseudo-headers (`:authority` recorded as Host, as HTTP/1.1 has it). */
function recordedRequestHeaders(headers: IncomingHttpHeaders): Headers {
  if (headers[":method"] === undefined) return redactHeaders(headers);
  const out = redactHeaders(headers, true);
  if (out.host === undefined && typeof headers[":authority"] === "string") out.host = headers[":authority"];
  return out;
}

const clusterUrls = new WeakMap<Upstream, string>();

/** The upstream's URL as recorded (its server's origin and path), worked out once per upstream. */
function clusterUrlOf(upstream: Upstream): string {
  let url = clusterUrls.get(upstream);
  if (url === undefined) clusterUrls.set(upstream, (url = upstream.server.origin + (upstream.server.pathname === "/" ? "" : upstream.server.pathname)));
  return url;
}

/** The skeleton of an Exchange for a request that just arrived, from its parts (an HTTP/2 stream has no request object). */
export function exchangeSkeleton(method: string, url: string, headers: IncomingHttpHeaders, address: string, upstream: Upstream, startedAt: number, origin: Exchange["origin"] = "proxy"): Exchange {
  const q = url.indexOf("?");
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? "" : url.slice(q + 1);
  return {
    startedAt,
    origin,
    replayOf: null,
    client: { address, userAgent: String(headers["user-agent"] ?? "") },
    context: upstream.contextName,
    clusterUrl: clusterUrlOf(upstream),
    kubeUser: upstream.userName,
    request: { method, path, query: redactQuery(query), headers: recordedRequestHeaders(headers), body: null, bytes: 0 },
    info: parseRequestInfo(method, path, query),
    response: null,
    timing: emptyTiming(),
    tls: null,
    error: null,
    stream: null,
  };
}

/** forwardedRequestHeaders for an HTTP/2 upstream stream: lower-case names, pseudo-headers first, nothing connection-specific. */
function h2RequestHeaders(c: ClientCall, credentials: Record<string, string>, authority: string, path: string, rules: ForwardRules = {}): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ":method": c.method, ":path": path, ":authority": authority, ":scheme": "https" };
  const pairs = forwardedRequestHeaders(c.rawHeaders, credentials, authority, rules);
  // pairs[0] is Host, which :authority carries; names differing only in case (Impersonate-Group,
  // impersonate-group...) become one repeated field
  for (let i = 2; i < pairs.length; i += 2) {
    const name = pairs[i].toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? pairs[i + 1] : Array.isArray(prev) ? [...prev, pairs[i + 1]] : [String(prev), pairs[i + 1]];
  }
  return out;
}

/** The upstream's response headers minus hop-by-hop ones, as raw pairs for an HTTP/1.1 client; Node frames the body. */
function h1ResponseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name !== "connection" && name !== "keep-alive" && name !== "proxy-connection" && name !== "trailer" && name[0] !== ":") out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** The upstream's response headers for an HTTP/2 client: an object without connection-specific or pseudo headers (`:status` first when given). */
function h2ResponseHeaders(headers: IncomingHttpHeaders, status?: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = status === undefined ? {} : { ":status": status };
  for (const k of Object.keys(headers)) {
    const v = headers[k];
    if (v !== undefined && k.charCodeAt(0) !== 58 && !CONNECTION_SPECIFIC.has(k)) out[k] = v; // 58: ":"
  }
  return out;
}

/** Each Warning header value apart (Node joins repeated headers it does not know into one); null when there is none. */
function warningsOf(headers: IncomingHttpHeaders, raw: string[] | null): string[] | null {
  if (!raw) return headers.warning === undefined ? null : ([] as string[]).concat(headers.warning);
  let out: string[] | null = null;
  for (let j = 0; j < raw.length; j += 2) {
    const name = raw[j];
    if (name.length === 7 && name.toLowerCase() === "warning") (out ??= []).push(raw[j + 1]);
  }
  return out;
}

function rawPairs(headers: OutgoingHttpHeaders): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k[0] === ":") continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push(k, String(one));
  }
  return out;
}

function isH2(req: ClientRequestIn): req is Http2ServerRequest {
  return (req as Http2ServerRequest).stream !== undefined && req.httpVersion === "2.0";
}

const clientIds = new WeakMap<object, { id: number; requests: number }>();
let nextClientId = 1;

/** Numbers the client's connection (per process) and this request's stream on it (h2 id, or ordinal for HTTP/1.1) on the exchange. */
function noteClientLeg(c: ClientCall, exchange: Exchange): void {
  const key: object = c.stream ? (c.stream.session ?? c.stream) : c.socket;
  let n = clientIds.get(key);
  if (!n) clientIds.set(key, (n = { id: nextClientId++, requests: 0 }));
  n.requests++;
  exchange.protocol = { client: c.stream ? "h2" : "http/1.1", upstream: "" };
  exchange.connection = { client: { id: n.id, stream: c.stream ? (c.stream.id ?? 0) : n.requests }, upstream: null };
}

export function makeForwarder(opts: ForwardOptions) {
  const { upstream, agent, pool, sink } = opts;
  const target = upstreamTarget(upstream.server);

  /**
   * One request's life: everything below closes over its exchange, so nothing is stored on the request.
   * Listeners for events a stream emits once ('close', 'end', 'response'...) are added with `on`: `once`
   * would make a wrapper for each, per request, and remove it again.
   */
  function handle(c: ClientCall, exchange: Exchange, t0: number, credentials: Record<string, string> | UpstreamError): void {
    const info = exchange.info;
    const { stream: h2stream, res } = c;
    /** what the response is written to: the response object, or the HTTP/2 stream itself */
    const out = (res ?? h2stream!) as NodeJS.WritableStream & { destroyed: boolean; headersSent: boolean; writableEnded: boolean; writableFinished: boolean; destroy(): void; once(ev: "close", f: () => void): void };
    noteClientLeg(c, exchange);
    const streaming = info.verb === "watch" || STREAMING_SUBRESOURCES.has(info.subresource) || /(^|&)follow=(true|1)/.test(exchange.request.query);
    /** made with the first byte of a request body (most requests have none) */
    let reqBody: BodyCapture | null = null;
    const captureRequest = (chunk: Buffer) => (reqBody ??= new BodyCapture(opts.captureLimit, false, { contentEncoding: c.headers["content-encoding"] })).push(chunk);
    let resBody: BodyCapture | null = null;
    let headerTimer: NodeJS.Timeout | null = null;
    /** cancels the upstream request (once one was sent) */
    let cancel: ((err?: Error) => void) | null = null;
    let h2conn: H2Connection | null = null;
    let upInfo: ConnectionInfo | undefined;
    let done = false;
    const clientGone = () => (h2stream ? h2stream.destroyed : (c.socket as { destroyed: boolean }).destroyed);

    const fail = (err: Error) => {
      if (headerTimer) clearTimeout(headerTimer);
      if (exchange.proxyAnswer) return; // kubewire already answered for the first failure
      if ((clientGone() || out.destroyed) && !(err instanceof UpstreamError)) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection", phase: "client" };
        return;
      }
      const { text, headers } = noteFailure(exchange, err, target.href, upInfo, performance.now() - t0, c.headers);
      if (out.headersSent) out.destroy();
      else if (!out.destroyed) exchange.proxyAnswer = res ? answer(res as ServerResponse, 502, headers, text) : answerStream(h2stream!, 502, headers, text); // the record keeps response null
    };

    const finish = () => {
      if (done) return;
      done = true;
      if (headerTimer) clearTimeout(headerTimer);
      if (h2conn) pool.release(h2conn);
      const total = performance.now() - t0;
      exchange.timing.totalMs = round(total);
      // (an HTTP/2 response reports writableFinished once its stream closed, even when the client reset it)
      const complete = h2stream ? out.writableEnded && !h2stream.rstCode : out.writableFinished;
      if (!complete) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: exchange.response ? "body" : "headers" };
        cancel?.(); // cancel upstream
      }
      const sent: BodyCapture | null = reqBody;
      exchange.request.bytes = sent?.size ?? 0;
      if (sent && sent.wireSize !== sent.size) exchange.request.wireBytes = sent.wireSize;
      exchange.request.body = sent ? redactBody(sent.result(), info, String(c.headers["content-type"] ?? "")) : null;
      if (resBody && exchange.response) {
        exchange.response.bytes = resBody.size;
        exchange.response.wireBytes = resBody.wireSize;
        exchange.response.body = redactBody(resBody.result(), info, String(exchange.response.headers["content-type"] ?? ""));
        if (streaming) {
          const endedBy = exchange.error?.code === "CLIENT_ABORTED" ? "client" : (rawOf(c.socket) as { kubewireCut?: boolean }).kubewireCut ? "proxy" : "server";
          exchange.stream = { kind: info.verb === "watch" ? "watch" : "stream", events: resBody.newlines, bytesIn: sent?.size ?? 0, bytesOut: resBody.size, durationMs: round(total), endedBy, ...resBody.watchSummary() };
          if (endedBy === "client") exchange.error = null; // ending a watch or a log stream is normal
        }
      }
      sink.record(exchange);
    };
    out.on("close", finish);

    if (credentials instanceof UpstreamError) {
      // kubewire could not forward at all (for example: the exec credential plugin failed)
      c.body.resume();
      fail(credentials);
      return;
    }

    // The header deadline runs from the request's arrival: time kubewire spends before the request
    // leaves (a connection to open) counts, and is named as kubewire's when it is the reason.
    let sent = false;
    if (!streaming && opts.headersTimeoutMs > 0) {
      headerTimer = setTimeout(() => {
        const err = sent
          ? new UpstreamError(`the API server sent no response headers within ${opts.headersTimeoutMs} ms`, "ETIMEDOUT", "headers")
          : new UpstreamError(`kubewire held the request for ${opts.headersTimeoutMs} ms without sending it to the API server`, "KUBEWIRE_HELD", "headers");
        if (cancel) cancel(err);
        else fail(err);
      }, Math.max(1, Math.ceil(opts.headersTimeoutMs - (performance.now() - t0)))); // whole ms: Node keeps one timer list per duration, so requests share one
      headerTimer.unref();
    }

    /** The upstream's answer, either protocol: record it, pass it on, capture the body as it streams. */
    const respond = (status: number, statusMessage: string | undefined, headers: IncomingHttpHeaders, raw: string[] | null, body: Readable, trailers: () => IncomingHttpHeaders | null) => {
      if (headerTimer) clearTimeout(headerTimer);
      exchange.timing.ttfbMs = round(performance.now() - t0);
      exchange.tls = upInfo?.tls ?? null;
      copyHandshake(exchange, upInfo);
      const recordHeaders = redactHeaders(headers, raw === null);
      const warnings = warningsOf(headers, raw);
      if (warnings) recordHeaders.warning = warnings;
      exchange.response = { status, headers: recordHeaders, body: null, bytes: 0 };
      if (status === 401) upstream.invalidate();
      const captured = (resBody = new BodyCapture(opts.captureLimit, streaming, { contentEncoding: headers["content-encoding"], contentType: headers["content-type"], watch: info.verb === "watch" }));
      body.on("data", (chunk: Buffer) => {
        captured.push(chunk);
        if (h2conn) pool.touch(h2conn);
      });
      let ended = false;
      /** set once the client has the response's head: trailers then follow the body */
      let passTrailers = false;
      /** the upstream's trailers for an HTTP/2 stream answered directly, sent when it asks for them */
      let streamTrailers: OutgoingHttpHeaders | null = null;
      body.on("end", () => {
        ended = true;
        const t = passTrailers ? trailers() : null;
        if (t && Object.keys(t).length && !out.destroyed) {
          if (!res) streamTrailers = h2ResponseHeaders(t);
          else {
            try {
              res.addTrailers(h2ResponseHeaders(t) as Record<string, string>);
            } catch {
              // an HTTP/1.1 client answered without chunked framing cannot take trailers
            }
          }
        }
      });
      const cut = () => {
        if (ended) return; // the whole body arrived: what the connection does afterwards is no failure of this exchange
        if (!done) {
          exchange.error ??= clientGone()
            ? { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: "body" }
            : h2conn?.lost
              ? { code: h2conn.lost.code, message: h2conn.lost.message, phase: "body" }
              : { code: "ECONNRESET", message: "the API server closed the connection mid-response", phase: "body" };
        }
        out.destroy();
      };
      body.on("aborted", cut);
      body.on("error", cut);
      if (out.destroyed) return;
      if (!res) {
        // as the compatibility API answers: trailers (or an empty end of stream) once the body is written
        const s = h2stream!;
        s.respond(h2ResponseHeaders(headers, status), { waitForTrailers: true });
        s.on("wantTrailers", () => {
          if (!s.destroyed) s.sendTrailers(streamTrailers ?? {});
        });
      } else if (h2stream) (res as Http2ServerResponse).writeHead(status, h2ResponseHeaders(headers));
      else (res as ServerResponse).writeHead(status, statusMessage, raw ? h1ResponseHeaders(raw) : rawPairs(h2ResponseHeaders(headers)));
      passTrailers = true;
      faultPipe(exchange, body, out).pipe(out); // fault: the identity unless a fault shapes this body
    };

    const path = target.basePath + originForm(c.url); // an absolute-form target goes upstream by its path (h2 has no absolute form)

    const sendH1 = () => {
      exchange.protocol!.upstream = "http/1.1";
      const up: ClientRequest = https.request({ agent, host: target.host, port: target.port, method: c.method, path, headers: forwardedRequestHeaders(c.rawHeaders, credentials, target.hostHeader, upstream) });
      cancel = (err) => up.destroy(err);
      up.once("socket", (socket) => {
        // The handshake of a new connection is still under way here: its phases are read with the response.
        sent = true;
        upInfo = connectionInfo(socket);
        countUse(exchange, upInfo);
        if (upInfo) exchange.connection!.upstream = { id: upInfo.id, stream: upInfo.uses };
      });
      up.once("response", (upRes) => {
        upInfo = connectionInfo(upRes.socket) ?? upInfo;
        respond(upRes.statusCode ?? 502, upRes.statusMessage, upRes.headers, upRes.rawHeaders, upRes, () => upRes.trailers);
      });
      up.on("error", (err) => {
        upInfo = connectionInfo(up.socket) ?? upInfo;
        fail(err);
      });
      c.body.on("error", () => up.destroy());
      c.body.on("data", captureRequest);
      c.body.pipe(up);
    };

    const sendH2 = (conn: H2Connection) => {
      h2conn = conn;
      upInfo = conn.info;
      exchange.protocol!.upstream = "h2";
      if (h2stream) opts.rode?.(h2stream.session!, conn);
      // Node ends GET and DELETE streams with their headers unless told: say whether a body follows
      const bodyFollows = h2stream ? !h2stream.endAfterHeaders : (c.headers["content-length"] !== undefined && c.headers["content-length"] !== "0") || c.headers["transfer-encoding"] !== undefined;
      let stream: ClientHttp2Stream;
      try {
        stream = conn.session.request(h2RequestHeaders(c, credentials, target.hostHeader, path, upstream), { endStream: !bodyFollows });
      } catch (err) {
        // the session closed between the lease and the request (a GOAWAY): nothing was sent, take another
        pool.release(conn);
        conn.goingAway = true;
        h2conn = null;
        return void pool.acquire(onLease);
      }
      sent = true;
      countUse(exchange, conn.info);
      cancel = (err) => {
        if (err) fail(err);
        if (!stream.destroyed) stream.close(0x8); // CANCEL
      };
      const upLeg = (exchange.connection!.upstream = { id: conn.id, stream: 0 });
      let trailers: IncomingHttpHeaders | null = null;
      stream.on("trailers", (t) => (trailers = t));
      stream.on("response", (headers) => {
        pool.touch(conn);
        upLeg.stream = stream.id ?? 0;
        respond(Number(headers[":status"] ?? 502), undefined, headers, null, stream, () => trailers);
      });
      stream.on("error", (err) => {
        if (exchange.response) return; // the body's own handler cuts the client's stream
        fail(lostBeforeHeaders(conn) ?? err);
      });
      stream.on("close", () => {
        // a stream reset before any answer (RST_STREAM, the session lost) without an 'error' event
        if (!exchange.response && !exchange.error && !done) fail(lostBeforeHeaders(conn) ?? new UpstreamError(`the API server reset the stream (code ${stream.rstCode})`, "ECONNRESET", "headers"));
      });
      // (an HTTP/2 stream answered directly ends with 'close' after an error, and finish cancels the upstream stream)
      if (res) c.body.on("error", () => stream.destroy());
      if (bodyFollows) {
        c.body.on("data", captureRequest);
        c.body.pipe(stream);
      } else if (res) c.body.resume(); // (a stream that ended with its headers has nothing to read)
    };

    const onLease = (err: Error | null, lease?: Lease) => {
      if (done) {
        if (lease?.kind === "h2") pool.release(lease.conn);
        return;
      }
      if (err || !lease) return fail(err ?? new Error("no upstream connection"));
      if (lease.kind === "h2") sendH2(lease.conn);
      else sendH1();
    };
    pool.acquire(onLease);
  }

  return {
    forward: (c: ClientCall, credentials: Record<string, string>, exchange: Exchange, t0: number) => handle(c, exchange, t0, credentials),
    /** Answers a request kubewire could not forward (for example: credentials unavailable). */
    refuse: (c: ClientCall, exchange: Exchange, t0: number, err: UpstreamError) => handle(c, exchange, t0, err),
  };
}

/** A session given up for dead while a stream still waited for its headers: the loss is in the headers phase. */
function lostBeforeHeaders(conn: H2Connection): UpstreamError | null {
  return conn.lost ? new UpstreamError(conn.lost.message, conn.lost.code, "headers") : null;
}
