// Forwards one ordinary HTTP request upstream, over HTTP/2 or HTTP/1.1 on each leg as the peers
// chose by ALPN (node:http2 / node:https and pipes), and builds its Exchange as it goes: request
// info, captured bodies, timing phases, TLS chain, both legs' protocol and connection, error.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ClientHttp2Stream, OutgoingHttpHeaders } from "node:http2";
import https from "node:https";
import type { Readable } from "node:stream";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, UpstreamError, type ConnectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange, Headers, Timing } from "../types.js";
import { BodyCapture } from "./body-capture.js";
import { forwardedRequestHeaders, type ForwardRules } from "./headers.js";
import { answer, noteFailure } from "./proxy-answer.js";
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

export interface ForwardOptions {
  upstream: Upstream;
  agent: UpstreamAgent;
  pool: UpstreamPool;
  sink: ExchangeSink;
  captureLimit: number;
  headersTimeoutMs: number;
  /** an HTTP/2 client's stream rode this upstream session (to pass its GOAWAY on) */
  rode?: (client: Http2ServerRequest, conn: H2Connection) => void;
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

/** The skeleton of an Exchange for a request that just arrived. */
export function newExchange(req: ClientRequestIn, upstream: Upstream, startedAt: number, origin: Exchange["origin"] = "proxy"): Exchange {
  const { path, query } = splitUrl(req.url ?? "/");
  return {
    startedAt,
    origin,
    replayOf: null,
    client: { address: req.socket?.remoteAddress ?? "", userAgent: String(req.headers["user-agent"] ?? "") },
    context: upstream.contextName,
    clusterUrl: upstream.server.origin + (upstream.server.pathname === "/" ? "" : upstream.server.pathname),
    kubeUser: upstream.userName,
    request: { method: req.method ?? "GET", path, query: redactQuery(query), headers: recordedRequestHeaders(req.headers), body: null, bytes: 0 },
    info: parseRequestInfo(req.method ?? "GET", path, query),
    response: null,
    timing: emptyTiming(),
    tls: null,
    error: null,
    stream: null,
  };
}

/** forwardedRequestHeaders for an HTTP/2 upstream stream: lower-case names, pseudo-headers first, nothing connection-specific. */
function h2RequestHeaders(req: ClientRequestIn, credentials: Record<string, string>, authority: string, path: string, rules: ForwardRules = {}): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ":method": req.method ?? "GET", ":path": path, ":authority": authority, ":scheme": "https" };
  const pairs = forwardedRequestHeaders(req.rawHeaders, credentials, authority, rules);
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

/** The upstream's response headers for an HTTP/2 client: an object without connection-specific or pseudo headers. */
function h2ResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
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

/** The client's connection (numbered per process) and this request's stream on it (h2 id, or ordinal for HTTP/1.1). */
function clientLeg(req: ClientRequestIn): { id: number; stream: number; protocol: string } {
  const h2 = isH2(req);
  const key: object = h2 ? (req as Http2ServerRequest).stream.session ?? req : (req as IncomingMessage).socket;
  let c = clientIds.get(key);
  if (!c) clientIds.set(key, (c = { id: nextClientId++, requests: 0 }));
  c.requests++;
  return { id: c.id, stream: h2 ? ((req as Http2ServerRequest).stream.id ?? 0) : c.requests, protocol: h2 ? "h2" : "http/1.1" };
}

export function makeForwarder(opts: ForwardOptions) {
  const { upstream, agent, pool, sink } = opts;
  const target = upstreamTarget(upstream.server);

  /** One request's life: everything below closes over its exchange, so nothing is stored on the request. */
  function handle(req: ClientRequestIn, res: ClientResponseOut, exchange: Exchange, t0: number, credentials: Record<string, string> | UpstreamError): void {
    const info = exchange.info;
    const h2client = isH2(req);
    const leg = clientLeg(req);
    exchange.protocol = { client: leg.protocol, upstream: "" };
    exchange.connection = { client: { id: leg.id, stream: leg.stream }, upstream: null };
    const streaming = info.verb === "watch" || STREAMING_SUBRESOURCES.has(info.subresource) || /(^|&)follow=(true|1)/.test(exchange.request.query);
    /** made with the first byte of a request body (most requests have none) */
    let reqBody: BodyCapture | null = null;
    const captureRequest = (chunk: Buffer) => (reqBody ??= new BodyCapture(opts.captureLimit, false, { contentEncoding: req.headers["content-encoding"] })).push(chunk);
    let resBody: BodyCapture | null = null;
    let headerTimer: NodeJS.Timeout | null = null;
    /** cancels the upstream request (once one was sent) */
    let cancel: ((err?: Error) => void) | null = null;
    let h2conn: H2Connection | null = null;
    let upInfo: ConnectionInfo | undefined;
    let done = false;
    const clientGone = () => (h2client ? (req as Http2ServerRequest).stream.destroyed : (req as IncomingMessage).socket.destroyed);

    const fail = (err: Error) => {
      if (headerTimer) clearTimeout(headerTimer);
      if (exchange.proxyAnswer) return; // kubewire already answered for the first failure
      if ((clientGone() || res.destroyed) && !(err instanceof UpstreamError)) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection", phase: "client" };
        return;
      }
      const { text, headers } = noteFailure(exchange, err, target.href, upInfo, performance.now() - t0, req.headers);
      if (res.headersSent) res.destroy();
      else if (!res.destroyed) exchange.proxyAnswer = answer(res as ServerResponse, 502, headers, text); // the record keeps response null
    };

    const finish = () => {
      if (done) return;
      done = true;
      if (headerTimer) clearTimeout(headerTimer);
      if (h2conn) pool.release(h2conn);
      const total = performance.now() - t0;
      exchange.timing.totalMs = round(total);
      // (an HTTP/2 response reports writableFinished once its stream closed, even when the client reset it)
      const complete = h2client ? res.writableEnded && !(req as Http2ServerRequest).stream.rstCode : res.writableFinished;
      if (!complete) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: exchange.response ? "body" : "headers" };
        cancel?.(); // cancel upstream
      }
      const sent: BodyCapture | null = reqBody;
      exchange.request.bytes = sent?.size ?? 0;
      if (sent && sent.wireSize !== sent.size) exchange.request.wireBytes = sent.wireSize;
      exchange.request.body = sent ? redactBody(sent.result(), info, String(req.headers["content-type"] ?? "")) : null;
      if (resBody && exchange.response) {
        exchange.response.bytes = resBody.size;
        exchange.response.wireBytes = resBody.wireSize;
        exchange.response.body = redactBody(resBody.result(), info, String(exchange.response.headers["content-type"] ?? ""));
        if (streaming) {
          const endedBy = exchange.error?.code === "CLIENT_ABORTED" ? "client" : (rawOf(req.socket ?? {}) as { kubewireCut?: boolean }).kubewireCut ? "proxy" : "server";
          exchange.stream = { kind: info.verb === "watch" ? "watch" : "stream", events: resBody.newlines, bytesIn: sent?.size ?? 0, bytesOut: resBody.size, durationMs: round(total), endedBy, ...resBody.watchSummary() };
          if (endedBy === "client") exchange.error = null; // ending a watch or a log stream is normal
        }
      }
      sink.record(exchange);
    };
    res.once("close", finish);

    if (credentials instanceof UpstreamError) {
      // kubewire could not forward at all (for example: the exec credential plugin failed)
      req.resume();
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
      }, Math.max(0, opts.headersTimeoutMs - (performance.now() - t0)));
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
      body.once("end", () => {
        ended = true;
        const t = passTrailers ? trailers() : null;
        if (t && Object.keys(t).length && !res.destroyed) {
          try {
            res.addTrailers(h2ResponseHeaders(t) as Record<string, string>);
          } catch {
            // an HTTP/1.1 client answered without chunked framing cannot take trailers
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
        res.destroy();
      };
      body.once("aborted", cut);
      body.once("error", cut);
      if (res.destroyed) return;
      if (h2client) (res as Http2ServerResponse).writeHead(status, h2ResponseHeaders(headers));
      else (res as ServerResponse).writeHead(status, statusMessage, raw ? h1ResponseHeaders(raw) : rawPairs(h2ResponseHeaders(headers)));
      passTrailers = true;
      faultPipe(exchange, body, res).pipe(res as NodeJS.WritableStream); // fault: the identity unless a fault shapes this body
    };

    const path = target.basePath + originForm(req.url ?? "/"); // an absolute-form target goes upstream by its path (h2 has no absolute form)

    const sendH1 = () => {
      exchange.protocol!.upstream = "http/1.1";
      const up: ClientRequest = https.request({ agent, host: target.host, port: target.port, method: req.method, path, headers: forwardedRequestHeaders(req.rawHeaders, credentials, target.hostHeader, upstream) });
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
      req.on("error", () => up.destroy());
      req.on("data", captureRequest);
      req.pipe(up);
    };

    const sendH2 = (conn: H2Connection) => {
      h2conn = conn;
      upInfo = conn.info;
      exchange.protocol!.upstream = "h2";
      if (h2client) opts.rode?.(req as Http2ServerRequest, conn);
      // Node ends GET and DELETE streams with their headers unless told: say whether a body follows
      const bodyFollows = h2client ? !(req as Http2ServerRequest).stream.endAfterHeaders : (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0") || req.headers["transfer-encoding"] !== undefined;
      let stream: ClientHttp2Stream;
      try {
        stream = conn.session.request(h2RequestHeaders(req, credentials, target.hostHeader, path, upstream), { endStream: !bodyFollows });
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
      exchange.connection!.upstream = { id: conn.id, stream: 0 };
      let trailers: IncomingHttpHeaders | null = null;
      stream.once("trailers", (t) => (trailers = t));
      stream.once("response", (headers) => {
        pool.touch(conn);
        exchange.connection!.upstream = { id: conn.id, stream: stream.id ?? 0 };
        respond(Number(headers[":status"] ?? 502), undefined, headers, null, stream, () => trailers);
      });
      stream.on("error", (err) => {
        if (exchange.response) return; // the body's own handler cuts the client's stream
        fail(lostBeforeHeaders(conn) ?? err);
      });
      stream.once("close", () => {
        // a stream reset before any answer (RST_STREAM, the session lost) without an 'error' event
        if (!exchange.response && !exchange.error && !done) fail(lostBeforeHeaders(conn) ?? new UpstreamError(`the API server reset the stream (code ${stream.rstCode})`, "ECONNRESET", "headers"));
      });
      req.on("error", () => stream.destroy());
      if (bodyFollows) {
        req.on("data", captureRequest);
        req.pipe(stream);
      } else req.resume();
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
    forward: (req: ClientRequestIn, res: ClientResponseOut, credentials: Record<string, string>, exchange: Exchange, t0: number) => handle(req, res, exchange, t0, credentials),
    /** Answers a request kubewire could not forward (for example: credentials unavailable). */
    refuse: (req: ClientRequestIn, res: ClientResponseOut, exchange: Exchange, t0: number, err: UpstreamError) => handle(req, res, exchange, t0, err),
  };
}

/** A session given up for dead while a stream still waited for its headers: the loss is in the headers phase. */
function lostBeforeHeaders(conn: H2Connection): UpstreamError | null {
  return conn.lost ? new UpstreamError(conn.lost.message, conn.lost.code, "headers") : null;
}
