// The local TLS endpoint clients talk to: accepts connections, checks the proxy token,
// hands requests to the forwarder and upgrades to the socket piper, shuts down cleanly.
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { UserError } from "../errors.js";
import type { Upstream } from "../kubeconfig/upstream.js";
import type { KeyPair } from "../tls/cert-factory.js";
import { UpstreamAgent, UpstreamError } from "../tls/upstream-agent.js";
import type { Exchange } from "../types.js";
import { emptyTiming, makeForwarder, newExchange, type ExchangeSink } from "./forward.js";
import { answer, answerRaw, noteFailure, TEXT_PLAIN } from "./proxy-answer.js";
import { REPLAY_HEADER } from "./headers.js";
import { round } from "./upstream-target.js";
import { makeProxyAuth } from "./proxy-auth.js";
import { proxyUpgrade } from "./upgrade.js";
import type { FaultEngine } from "../fault/engine.js"; // fault:

export interface ProxyOptions {
  upstream: Upstream;
  sink: ExchangeSink;
  /** the local CA (client certificates it issued are accepted instead of the token) */
  ca: KeyPair;
  /** the serving certificate for localhost */
  server: KeyPair;
  token: string;
  host?: string;
  port?: number;
  captureLimit?: number;
  connectTimeoutMs?: number;
  tlsTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** what recorded exchanges say they came from (default "proxy") */
  origin?: Exchange["origin"];
  /** fault rules applied at each request's arrival */
  faults?: FaultEngine; // fault:
}

export interface RunningProxy {
  url: string;
  host: string;
  port: number;
  /** stop accepting, let requests finish for up to graceMs, then cut what is left open */
  close(graceMs?: number): Promise<void>;
}

/** A 401 Status as kube-apiserver sends it, so that kubectl shows the kubewire message. */
function proxyAuthStatus(reason: string): string {
  const message = `kubewire: ${reason}; use the kubeconfig that kubewire wrote for this run`;
  return JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Unauthorized", code: 401 });
}

const PROXY_AUTH_HEADERS = { "content-type": "application/json", "x-kubewire-error": "PROXY_AUTH" };

/** `kubewire replay` marks its requests with the ID they replay; the header goes no further. */
function markReplay(req: IncomingMessage, exchange: Exchange): void {
  const value = req.headers[REPLAY_HEADER];
  if (value === undefined) return;
  delete req.headers[REPLAY_HEADER];
  const id = Number(value);
  if (Number.isInteger(id) && id > 0) {
    exchange.replayOf = id;
    exchange.origin = "replay";
  }
  delete exchange.request.headers[REPLAY_HEADER];
}


export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const { upstream, sink } = opts;
  const agent = new UpstreamAgent({
    tls: upstream.tls,
    proxyUrl: upstream.proxyUrl,
    connectTimeoutMs: opts.connectTimeoutMs,
    tlsTimeoutMs: opts.tlsTimeoutMs,
  });
  const forwarder = makeForwarder({
    upstream,
    agent,
    sink,
    captureLimit: opts.captureLimit ?? 64 * 1024,
    headersTimeoutMs: opts.headersTimeoutMs ?? 60_000,
  });
  const authorize = makeProxyAuth(opts.token);
  const sockets = new Set<Duplex>();
  const track = (s: Duplex) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  };

  const credentialsFor = (onReady: (c: Record<string, string>) => void, onFail: (e: UpstreamError) => void) => {
    const cached = upstream.cachedHeaders();
    if (cached) return onReady(cached);
    upstream.headers().then(onReady, (err: Error) => onFail(new UpstreamError(err.message, "CREDENTIALS", "credentials")));
  };

  const server = https.createServer(
    { key: opts.server.keyPem, cert: opts.server.certPem, ca: opts.ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req: IncomingMessage, res: ServerResponse) => {
      const t0 = performance.now();
      const exchange = newExchange(req, upstream, Date.now(), opts.origin);
      const auth = authorize(req);
      if (!auth.ok) {
        req.resume();
        exchange.error = { code: "PROXY_AUTH", message: auth.reason, phase: "client" };
        exchange.response = answer(res, 401, PROXY_AUTH_HEADERS, proxyAuthStatus(auth.reason));
        exchange.timing.totalMs = round(performance.now() - t0);
        sink.record(exchange);
        return;
      }
      markReplay(req, exchange);
      const go = () => credentialsFor(
        (c) => forwarder.forward(req, res, c, exchange, t0),
        (e) => forwarder.refuse(req, res, exchange, t0, e),
      );
      if (opts.faults) opts.faults.handle(req, res, exchange, t0, sink, go); // fault: may answer, reset, hang, delay or shape the body instead
      else go();
    },
  );
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // watches and log streams last as long as they last

  server.on("connection", (s: Socket) => track(s));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const t0 = performance.now();
    const exchange = newExchange(req, upstream, Date.now(), opts.origin);
    const auth = authorize(req);
    if (!auth.ok) {
      exchange.error = { code: "PROXY_AUTH", message: auth.reason, phase: "client" };
      exchange.response = answerRaw(socket, 401, PROXY_AUTH_HEADERS, proxyAuthStatus(auth.reason));
      exchange.timing.totalMs = round(performance.now() - t0);
      sink.record(exchange);
      return;
    }
    markReplay(req, exchange);
    credentialsFor(
      (c) => proxyUpgrade({ upstream, agent, sink, track }, req, socket, head, c, exchange, t0),
      (e) => {
        const { text, headers } = noteFailure(exchange, e, upstream.server.origin, undefined, performance.now() - t0);
        exchange.response = answerRaw(socket, 502, headers, text);
        exchange.timing.totalMs = round(performance.now() - t0);
        sink.record(exchange);
      },
    );
  });
  /** A record for a client that never got as far as a request kubewire could forward. */
  const clientFailure = (socket: Duplex & { remoteAddress?: string }, code: string, message: string): Exchange => ({
    startedAt: Date.now(),
    origin: opts.origin ?? "proxy",
    replayOf: null,
    client: { address: socket.remoteAddress ?? "", userAgent: "" },
    context: upstream.contextName,
    clusterUrl: upstream.server.origin,
    kubeUser: upstream.userName,
    request: { method: "", path: "", query: "", headers: {}, body: null, bytes: 0 },
    info: { isResourceRequest: false, verb: "", apiPrefix: "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "" },
    response: null,
    timing: emptyTiming(),
    tls: null,
    error: { code, message, phase: "client" },
    stream: null,
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Requests Node's HTTP parser refused (headers too large, malformed request line...).
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const reason = `${tooLarge ? "request headers too large" : "malformed HTTP request"} (${err.code ?? err.message})`;
    const exchange = clientFailure(socket, "CLIENT_BAD_REQUEST", reason);
    exchange.response = answerRaw(socket, tooLarge ? 431 : 400, { "content-type": TEXT_PLAIN }, `kubewire: ${reason}`);
    sink.record(exchange);
  });
  server.on("tlsClientError", (err: NodeJS.ErrnoException, tlsSocket: TLSSocket) => {
    // A client that does not trust the local CA, or speaks plain HTTP to the TLS port. A client
    // that hangs up before its handshake said anything (load generators do) made no exchange.
    if (err.code === "ECONNRESET") return;
    sink.record(clientFailure(tlsSocket, "CLIENT_TLS", `TLS handshake with the client failed: ${err.message.split("\n")[0]}`));
  });

  const host = opts.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new UserError(`cannot listen on ${host}:${opts.port}: the port is in use`, "choose another with --listen HOST:PORT (port 0 picks a free one)"));
      else if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") reject(new UserError(`cannot listen on ${host}: no such local address`));
      else if (err.code === "EACCES") reject(new UserError(`cannot listen on ${host}:${opts.port}: permission denied`));
      else reject(err);
    });
    server.listen(opts.port ?? 8443, host, () => resolve());
  });
  server.on("error", () => undefined);
  const address = server.address() as { port: number };
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `https://${urlHost}:${address.port}`,
    host,
    port: address.port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections?.();
        const cut = setTimeout(() => {
          for (const s of sockets) {
            (s as { kubewireCut?: boolean }).kubewireCut = true;
            s.destroy();
          }
        }, graceMs);
        cut.unref();
        // streams (watches) never finish on their own: cut them once the grace is over
        server.once("close", () => {
          clearTimeout(cut);
          agent.destroy();

        });
      }),
  };
}
