// Forwards one ordinary HTTP request upstream (node:https and pipes: measured cheaper than
// http-proxy, see BENCHMARKS.md) and builds its Exchange as it goes: request info,
// captured bodies, timing phases, TLS chain, error.
import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, UpstreamError, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange, Timing } from "../types.js";
import { BodyCapture } from "./body-capture.js";
import { HOP_BY_HOP } from "./headers.js";
import { answer, noteFailure } from "./proxy-answer.js";
import { redactBody, redactHeaders } from "./redact.js";
import { parseRequestInfo } from "./request-info.js";
import { faultPipe } from "../fault/streams.js"; // fault:
import { copyHandshake, countConnectionUse, round, upstreamTarget } from "./upstream-target.js";

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

export function makeForwarder(opts: ForwardOptions) {
  const { upstream, agent, sink } = opts;
  const target = upstreamTarget(upstream.server);

  /** One request's life: everything below closes over its exchange, so nothing is stored on the request. */
  function handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange, t0: number, credentials: Record<string, string> | UpstreamError): void {
    const info = exchange.info;
    const streaming = info.verb === "watch" || STREAMING_SUBRESOURCES.has(info.subresource) || /(^|&)follow=(true|1)/.test(exchange.request.query);
    const reqBody = new BodyCapture(opts.captureLimit);
    let resBody: BodyCapture | null = null;
    let headerTimer: NodeJS.Timeout | null = null;
    let upReq: ClientRequest | null = null;
    let done = false;

    const fail = (err: Error, upSocket?: IncomingMessage["socket"] | null) => {
      if (headerTimer) clearTimeout(headerTimer);
      if ((req.socket.destroyed || res.destroyed) && !(err instanceof UpstreamError)) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection", phase: "client" };
        return;
      }
      const { text, headers } = noteFailure(exchange, err, target.href, connectionInfo(upSocket), performance.now() - t0);
      if (res.headersSent) res.destroy();
      else exchange.response = answer(res, 502, headers, text);
    };

    const finish = () => {
      if (done) return;
      done = true;
      if (headerTimer) clearTimeout(headerTimer);
      const total = performance.now() - t0;
      exchange.timing.totalMs = round(total);
      if (!res.writableFinished) {
        exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: exchange.response ? "body" : "headers" };
        if (upReq && !upReq.destroyed) upReq.destroy(); // cancel upstream
      }
      exchange.request.bytes = reqBody.size;
      exchange.request.body = redactBody(reqBody.result(), info, String(req.headers["content-type"] ?? ""));
      if (resBody && exchange.response && !exchange.response.fromProxy) {
        exchange.response.bytes = resBody.size;
        exchange.response.body = redactBody(resBody.result(), info, String(exchange.response.headers["content-type"] ?? ""));
        if (streaming) {
          const endedBy = exchange.error?.code === "CLIENT_ABORTED" ? "client" : (req.socket as { kubewireCut?: boolean }).kubewireCut ? "proxy" : "server";
          exchange.stream = { kind: info.verb === "watch" ? "watch" : "stream", events: resBody.newlines, bytesIn: reqBody.size, bytesOut: resBody.size, durationMs: round(total), endedBy };
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

    const up = (upReq = https.request({ agent, host: target.host, port: target.port, method: req.method, path: target.basePath + (req.url ?? "/"), headers: requestHeaders(req.rawHeaders, credentials, target.hostHeader) }));
    up.once("socket", (socket) => {
      // The handshake of a new connection is still under way here: its phases are read with the response.
      countConnectionUse(exchange, socket);
      if (streaming || opts.headersTimeoutMs <= 0) return;
      headerTimer = setTimeout(() => {
        up.destroy(new UpstreamError(`the API server sent no response headers within ${opts.headersTimeoutMs} ms`, "ETIMEDOUT", "headers"));
      }, opts.headersTimeoutMs);
      headerTimer.unref();
    });
    up.once("response", (upRes) => {
      if (headerTimer) clearTimeout(headerTimer);
      exchange.timing.ttfbMs = round(performance.now() - t0);
      const conn = connectionInfo(upRes.socket);
      exchange.tls = conn?.tls ?? null;
      copyHandshake(exchange, conn);
      exchange.response = { status: upRes.statusCode ?? 0, headers: redactHeaders(upRes.headers), body: null, bytes: 0, fromProxy: false };
      if (exchange.response.status === 401) upstream.invalidate();
      const body = (resBody = new BodyCapture(opts.captureLimit, streaming));
      upRes.on("data", (chunk: Buffer) => body.push(chunk));
      const cut = () => {
        if (!done) {
          exchange.error ??= req.socket.destroyed
            ? { code: "CLIENT_ABORTED", message: "the client closed the connection before the response was complete", phase: "body" }
            : { code: "ECONNRESET", message: "the API server closed the connection mid-response", phase: "body" };
        }
        res.destroy();
      };
      upRes.once("aborted", cut);
      upRes.once("error", cut);
      if (res.destroyed) return;
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes.rawHeaders));
      faultPipe(exchange, upRes, res).pipe(res); // fault: the identity unless a fault shapes this body
    });
    up.on("error", (err) => fail(err, up.socket));
    req.on("data", (chunk: Buffer) => reqBody.push(chunk));
    req.on("error", () => up.destroy());
    req.pipe(up);
  }

  return {
    forward: (req: IncomingMessage, res: ServerResponse, credentials: Record<string, string>, exchange: Exchange, t0: number) => handle(req, res, exchange, t0, credentials),
    /** Answers a request kubewire could not forward (for example: credentials unavailable). */
    refuse: (req: IncomingMessage, res: ServerResponse, exchange: Exchange, t0: number, err: UpstreamError) => handle(req, res, exchange, t0, err),
  };
}
