// Forwards one ordinary HTTP request upstream (node:https and pipes: measured cheaper than
// http-proxy, see BENCHMARKS.md) and builds its Exchange as it goes: request info,
// captured bodies, timing phases, TLS chain, error.
import type { IncomingMessage, ServerResponse, ClientRequest } from "node:http";
import https from "node:https";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, UpstreamError, type ConnectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange, Timing } from "../types.js";
import { BodyCapture } from "./body-capture.js";
import { classifyFailure, failureText } from "./failure-message.js";
import { redactBody, redactHeaders } from "./redact.js";
import { parseRequestInfo } from "./request-info.js";

export interface ExchangeSink {
  record(exchange: Exchange): void;
}

export interface ForwardOptions {
  upstream: Upstream;
  agent: UpstreamAgent;
  sink: ExchangeSink;
  captureLimit: number;
  headersTimeoutMs: number;
}

interface Pending {
  exchange: Exchange;
  t0: number;
  streaming: boolean;
  reqBody: BodyCapture;
  resBody: BodyCapture | null;
  proxyReq: ClientRequest | null;
  headerTimer: NodeJS.Timeout | null;
  done: boolean;
}

const PENDING = Symbol("kubewire.pending");
type Tagged = IncomingMessage & { [PENDING]?: Pending };

const STREAMING_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);

export function emptyTiming(): Timing {
  return { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, totalMs: 0, reusedConnection: false };
}

export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf("?");
  return q === -1 ? { path: url, query: "" } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

/** The skeleton of an Exchange for a request that just arrived. */
export function newExchange(req: IncomingMessage, upstream: Upstream, startedAt: number, origin: Exchange["origin"] = "proxy"): Exchange {
  const { path, query } = splitUrl(req.url ?? "/");
  return {
    startedAt,
    origin,
    replayOf: null,
    client: { address: req.socket.remoteAddress ?? "", userAgent: String(req.headers["user-agent"] ?? "") },
    context: upstream.contextName,
    clusterUrl: upstream.server.origin + (upstream.server.pathname === "/" ? "" : upstream.server.pathname),
    kubeUser: upstream.userName,
    request: { method: req.method ?? "GET", path, query, headers: redactHeaders(req.headers), body: null, bytes: 0 },
    info: parseRequestInfo(req.method ?? "GET", path, query),
    response: null,
    timing: emptyTiming(),
    tls: null,
    error: null,
    stream: null,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Hop-by-hop headers (RFC 9110 7.6.1) and what only this hop may read: never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer", "upgrade", "expect", "host", "authorization"]);

/** The client's headers as it sent them (case and order kept) minus hop-by-hop ones, plus the upstream credentials. */
export function requestHeaders(raw: string[], credentials: Record<string, string>, hostHeader: string): string[] {
  const out: string[] = ["Host", hostHeader];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  for (const [k, v] of Object.entries(credentials)) out.push(k, v);
  return out;
}

/** The upstream's response headers minus hop-by-hop ones; Node frames the body for the client. */
function responseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (name !== "connection" && name !== "keep-alive" && name !== "proxy-connection" && name !== "trailer") out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/** The DNS, connect and TLS phases of the connection, for the request that opened it. */
export function copyHandshake(ex: Exchange, conn: ConnectionInfo | undefined): void {
  if (!conn || ex.timing.reusedConnection) return;
  ex.timing.dnsMs = round(conn.dnsMs);
  ex.timing.connectMs = round(conn.connectMs);
  ex.timing.tlsMs = round(conn.tlsMs);
}

export function makeForwarder(opts: ForwardOptions) {
  const { upstream, agent, sink } = opts;
  const target = upstream.server.href.replace(/\/$/, "");
  const host = upstream.server.hostname.replace(/^\[|\]$/g, "");
  const port = Number(upstream.server.port || 443);
  const hostHeader = upstream.server.host; // host[:port] as the URL has it (port omitted when 443)
  const basePath = upstream.server.pathname === "/" ? "" : upstream.server.pathname.replace(/\/$/, "");

  function onSocket(p: Pending, upReq: ClientRequest): void {
    // The handshake of a new connection is still under way here: its phases are read later.
    const conn = connectionInfo(upReq.socket);
    if (conn) {
      if (conn.uses > 0) p.exchange.timing.reusedConnection = true;
      conn.uses++;
    }
    if (!p.streaming && opts.headersTimeoutMs > 0) {
      p.headerTimer = setTimeout(() => {
        upReq.destroy(new UpstreamError(`the API server sent no response headers within ${opts.headersTimeoutMs} ms`, "ETIMEDOUT", "headers"));
      }, opts.headersTimeoutMs);
      p.headerTimer.unref();
    }
  }

  function onResponse(p: Pending, req: IncomingMessage, res: ServerResponse, upRes: IncomingMessage): void {
    if (p.headerTimer) clearTimeout(p.headerTimer);
    const ex = p.exchange;
    ex.timing.ttfbMs = round(performance.now() - p.t0);
    const conn = connectionInfo(upRes.socket);
    ex.tls = conn?.tls ?? null;
    copyHandshake(ex, conn);
    ex.response = {
      status: upRes.statusCode ?? 0,
      headers: redactHeaders(upRes.headers),
      body: null,
      bytes: 0,
      fromProxy: false,
    };
    if (ex.response.status === 401) upstream.invalidate();
    const body = new BodyCapture(opts.captureLimit, p.streaming);
    p.resBody = body;
    upRes.on("data", (chunk: Buffer) => body.push(chunk));
    const cut = () => {
      if (!ex.error && !p.done) {
        ex.error = req.socket.destroyed
          ? { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: "body" }
          : { code: "ECONNRESET", message: "the API server closed the connection mid-response", phase: "body" };
      }
      res.destroy();
    };
    upRes.once("aborted", cut);
    upRes.once("error", cut);
    if (res.destroyed) return;
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes.rawHeaders));
    upRes.pipe(res);
  }

  function fail(err: Error, req: IncomingMessage, res: ServerResponse): void {
    const p = (req as Tagged)[PENDING];
    if (!p) return;
    if (p.headerTimer) clearTimeout(p.headerTimer);
    const clientGone = req.socket.destroyed || res.destroyed;
    if (clientGone && !(err instanceof UpstreamError)) {
      p.exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection", phase: "client" };
      return;
    }
    const conn = connectionInfo(p.proxyReq?.socket);
    copyHandshake(p.exchange, conn);
    p.exchange.timing.ttfbMs = round(performance.now() - p.t0); // when the failure was known
    const failure = classifyFailure(err, target);
    p.exchange.error = failure.error;
    if (conn?.tls) p.exchange.tls = conn.tls;
    else if (failure.chain.length) p.exchange.tls = { protocol: null, cipher: null, alpn: null, resumed: false, chain: failure.chain };
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = failureText(failure, target);
    const headers = { "content-type": "text/plain; charset=utf-8", "x-kubewire-error": failure.error.code };
    res.writeHead(502, headers);
    res.end(text);
    p.exchange.response = {
      status: 502,
      headers,
      body: { data: text, encoding: "utf8", truncated: false, size: Buffer.byteLength(text) },
      bytes: Buffer.byteLength(text),
      fromProxy: true,
    };
  }

  function finish(req: IncomingMessage, res: ServerResponse): void {
    const p = (req as Tagged)[PENDING];
    if (!p || p.done) return;
    p.done = true;
    if (p.headerTimer) clearTimeout(p.headerTimer);
    const ex = p.exchange;
    const total = performance.now() - p.t0;
    ex.timing.totalMs = round(total);
    if (!res.writableFinished && !ex.error) {
      ex.error = { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: ex.response ? "body" : "headers" };
    }
    if (!res.writableFinished && p.proxyReq && !p.proxyReq.destroyed) p.proxyReq.destroy(); // cancel upstream
    ex.request.bytes = p.reqBody.size;
    ex.request.body = redactBody(p.reqBody.result(), ex.info, String(req.headers["content-type"] ?? ""));
    if (p.resBody && ex.response && !ex.response.fromProxy) {
      ex.response.bytes = p.resBody.size;
      ex.response.body = redactBody(p.resBody.result(), ex.info, String(ex.response.headers["content-type"] ?? ""));
      if (p.streaming) {
        const endedBy = ex.error?.code === "CLIENT_ABORTED" ? "client" : (req.socket as { kubewireCut?: boolean }).kubewireCut ? "proxy" : "server";
        ex.stream = { kind: ex.info.verb === "watch" ? "watch" : "stream", events: p.resBody.newlines, bytesIn: p.reqBody.size, bytesOut: p.resBody.size, durationMs: round(total), endedBy };
        if (endedBy !== "server" && ex.error?.code === "CLIENT_ABORTED") ex.error = null; // ending a watch is normal
      }
    }
    delete (req as Tagged)[PENDING];
    sink.record(ex);
  }

  function forward(req: IncomingMessage, res: ServerResponse, credentials: Record<string, string>, exchange: Exchange, t0: number): void {
    const info = exchange.info;
    const streaming =
      info.verb === "watch" || STREAMING_SUBRESOURCES.has(info.subresource) || /(^|&)follow=(true|1)/.test(exchange.request.query);
    const p: Pending = { exchange, t0, streaming, reqBody: new BodyCapture(opts.captureLimit), resBody: null, proxyReq: null, headerTimer: null, done: false };
    (req as Tagged)[PENDING] = p;
    req.on("data", (chunk: Buffer) => p.reqBody.push(chunk));
    res.once("close", () => finish(req, res));
    const upReq = https.request({ agent, host, port, method: req.method, path: basePath + (req.url ?? "/"), headers: requestHeaders(req.rawHeaders, credentials, hostHeader) });
    p.proxyReq = upReq;
    upReq.once("socket", () => onSocket(p, upReq));
    upReq.once("response", (upRes) => onResponse(p, req, res, upRes));
    upReq.on("error", (err) => fail(err, req, res));
    req.on("error", () => upReq.destroy());
    req.pipe(upReq);
  }

  /** Answers a request kubewire could not forward (for example: credentials unavailable). */
  function refuse(req: IncomingMessage, res: ServerResponse, exchange: Exchange, t0: number, err: UpstreamError): void {
    const p: Pending = { exchange, t0, streaming: false, reqBody: new BodyCapture(opts.captureLimit), resBody: null, proxyReq: null, headerTimer: null, done: false };
    (req as Tagged)[PENDING] = p;
    res.once("close", () => finish(req, res));
    fail(err, req, res);
    req.resume();
  }

  return { forward, refuse };
}
