// The local TLS endpoint clients talk to: accepts connections (HTTP/2 or HTTP/1.1 as the client
// offers by ALPN), checks the proxy token, which selects the upstream identity, hands requests to
// that identity's forwarder (HTTP/2 ones as streams, HTTP/1.1 ones as node:http requests) and
// HTTP/1.1 upgrades to the socket piper, passes an upstream GOAWAY on to HTTP/2 clients, shuts down cleanly.
import http2 from "node:http2";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Upstream } from "../kubeconfig/upstream.js";
import type { KeyPair } from "../tls/cert-factory.js";
import { UpstreamAgent, UpstreamError } from "../tls/upstream-agent.js";
import type { Exchange } from "../types.js";
import { compatCall, emptyTiming, exchangeSkeleton, makeForwarder, streamCall, type ClientCall, type ExchangeSink } from "./forward.js";
import { UpstreamPool } from "./upstream-pool.js";
import { answer, answerRaw, answerStream, noteFailure, TEXT_PLAIN, wordAnswer, type ClientHeaders } from "./proxy-answer.js";
import { REPLAY_HEADER } from "./headers.js";
import { round, upstreamTarget } from "./upstream-target.js";
import { makeProxyAuth, type AuthRequest } from "./proxy-auth.js";
import { makeListenerGuard, rawOf } from "./listener-guard.js";
import { proxyUpgrade } from "./upgrade.js";
import { listenError } from "./listen-error.js";
import { constants as cryptoConstants } from "node:crypto";
import { serviceAccountOf } from "../kubeconfig/in-cluster.js";
import type { FaultEngine } from "../fault/engine.js"; // fault:

/** Another upstream identity on a listener: the proxy token that selects it and its upstream, resolved on first use. */
export interface ProxyIdentity {
  token: string;
  upstream: () => Promise<Upstream>;
}

export interface ProxyOptions {
  /** the listener's first identity, selected by `token` (and by a local-CA client certificate); records of clients that proved nothing name it */
  upstream: Upstream;
  sink: ExchangeSink;
  /** the local CA (client certificates it issued are accepted instead of the token) */
  ca: KeyPair;
  /** the serving certificate for localhost */
  server: KeyPair;
  token: string;
  /** more identities on this listener (the whole kubeconfig: this cluster with each other user entry) */
  identities?: ProxyIdentity[];
  host?: string;
  port?: number;
  captureLimit?: number;
  connectTimeoutMs?: number;
  tlsTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** what recorded exchanges say they came from (default "proxy") */
  origin?: Exchange["origin"];
  /**
   * in-cluster: clients are admitted by a local-CA client certificate only, and the Authorization
   * header they send (the pod's own token) is forwarded upstream instead of being dropped.
   */
  passThroughAuthorization?: boolean;
  /** a client's TLS handshake must finish within this, or its socket is destroyed (default 10 s) */
  handshakeTimeoutMs?: number;
  /** connections that have not yet proved the token; beyond it the longest-waiting one is dropped (default 256) */
  maxUnauthenticated?: number;
  /** PING an upstream HTTP/2 session after this long with nothing read (default 30 s, as client-go); also the TCP keepalive idle time of HTTP/1.1 upstream sockets */
  keepaliveIdleMs?: number;
  /** give an upstream HTTP/2 session up when its PING is not answered within this (default 15 s, as client-go) */
  keepaliveTimeoutMs?: number;
  /** a port already bound (by the session, before the proxy was loaded): the proxy takes its connections instead of listening */
  listener?: { host: string; port: number; take(onSocket: (socket: Socket) => void): void; close(): void };
  /** open the first identity's upstream connection at once (exec: while the wrapped command starts), not with the first request */
  preconnect?: boolean;
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

/**
 * kubewire's own refusal of a client without the proxy token: kubewire answering, not the API server (which
 * never saw the request), so it is recorded as the PROXY_AUTH error with this 401 as the proxyAnswer. Worded
 * as kube-apiserver's 401 Status (reason Unauthorized), its line also in a Warning, which kubectl prints even
 * on discovery, where it hides a 401's body behind "You must be logged in to the server".
 */
function proxyAuthAnswer(client: ClientHeaders, reason: string): { headers: Record<string, string>; text: string } {
  return wordAnswer(client, 401, `kubewire: ${reason}; use the kubeconfig that kubewire wrote for this run`, "PROXY_AUTH", "Unauthorized");
}

/** `kubewire replay` marks its requests with the ID they replay; the header goes no further. */
function markReplay(headers: IncomingHttpHeaders, exchange: Exchange): void {
  const value = headers[REPLAY_HEADER];
  if (value === undefined) return;
  delete headers[REPLAY_HEADER];
  const id = Number(value);
  if (Number.isInteger(id) && id > 0) {
    exchange.replayOf = id;
    exchange.origin = "replay";
  }
  delete exchange.request.headers[REPLAY_HEADER];
}

const ignore = () => undefined;

/** What an HTTP/2 client connection's requests read of its socket. */
interface ClientConnection {
  /** the session's socket (a proxy of the TLS socket) */
  socket: object;
  /** the accepted TCP socket under it */
  raw: object;
  address: string;
}

function clientConnection(session: http2.ServerHttp2Session): ClientConnection {
  const socket = session.socket;
  return { socket, raw: rawOf(socket), address: socket.remoteAddress ?? "" };
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const { upstream, sink } = opts;
  /** each HTTP/2 client connection, with what its requests read of its socket, taken once (the session's socket is a proxy object) */
  const clientSessions = new Map<http2.ServerHttp2Session, ClientConnection>();
  /** One identity's way upstream: its TLS agent, HTTP/2 sessions and forwarder (credentials and client certificate differ per user). */
  interface Route {
    upstream: Upstream;
    agent: UpstreamAgent;
    pool: UpstreamPool;
    forwarder: ReturnType<typeof makeForwarder>;
  }
  const opened: Route[] = [];
  const openRoute = (up: Upstream): Route => {
    const agent = new UpstreamAgent({
      tls: up.tls,
      proxyUrl: up.proxyUrl,
      connectTimeoutMs: opts.connectTimeoutMs,
      tlsTimeoutMs: opts.tlsTimeoutMs,
      keepaliveIdleMs: opts.keepaliveIdleMs,
    });
    const pool = new UpstreamPool({
      agent,
      target: upstreamTarget(up.server),
      keepaliveIdleMs: opts.keepaliveIdleMs,
      keepaliveTimeoutMs: opts.keepaliveTimeoutMs,
      // The API server sent GOAWAY: the HTTP/2 clients whose streams rode that session get one too (their
      // streams in flight finish), so they reconnect, and their new requests ride a new upstream session.
      onGoaway: (conn) => {
        for (const s of conn.riders) if (!s.closed && !s.destroyed) s.close();
        conn.riders.clear();
      },
    });
    const forwarder = makeForwarder({
      upstream: up,
      agent,
      pool,
      rode: (session, conn) => {
        if (!session || conn.riders.has(session)) return;
        conn.riders.add(session);
        session.once("close", () => conn.riders.delete(session));
      },
      sink,
      captureLimit: opts.captureLimit ?? 64 * 1024,
      headersTimeoutMs: opts.headersTimeoutMs ?? 60_000,
    });
    const route = { upstream: up, agent, pool, forwarder };
    opened.push(route);
    return route;
  };
  // identity i: the route once open, else its opening (an identity's upstream is resolved on its first request)
  const routes: Array<Route | Promise<Route> | null> = [openRoute(upstream), ...(opts.identities ?? []).map(() => null)];
  let closed = false;
  if (opts.preconnect) {
    // the first identity's upstream session opens now, while the client starts up; a failure is left for the first request to meet
    const first = routes[0] as Route;
    first.pool.acquire((err, lease) => {
      if (err || lease?.kind !== "h2") return;
      lease.conn.info.readyAheadAt = Date.now();
      first.pool.release(lease.conn);
    });
  }
  /** Calls `use` with the identity's route: at once when it is open (the synchronous forward path), else once it is. */
  const withRoute = (identity: number, use: (r: Route) => void, failed: (err: Error) => void) => {
    const r = routes[identity];
    if (r && !(r instanceof Promise)) return use(r);
    const opening: Promise<Route> = r ?? opts.identities![identity - 1].upstream().then((up) => {
      if (closed) throw new Error("kubewire is stopping");
      return (routes[identity] = openRoute(up));
    });
    routes[identity] ??= opening;
    opening.then(use, failed);
  };
  /** The exchange skeleton, naming the kubeconfig cluster entry too (kubeUser names the user entry). */
  const exchangeOf = (req: { method?: string; url?: string; headers: IncomingHttpHeaders; socket?: { remoteAddress?: string } }, up: Upstream, startedAt: number, address = req.socket?.remoteAddress ?? ""): Exchange => {
    const ex = exchangeSkeleton(req.method ?? "GET", req.url ?? "/", req.headers, address, up, startedAt, opts.origin);
    if (up.clusterName) ex.kubeCluster = up.clusterName;
    return ex;
  };
  const tokenAuth = makeProxyAuth([opts.token, ...(opts.identities ?? []).map((i) => i.token)]);
  // in-cluster: the bearer token belongs to the API server, so only the client certificate admits a client
  const authorize = opts.passThroughAuthorization
    ? (req: AuthRequest) => ((req.socket as TLSSocket).authorized === true ? { ok: true as const, identity: 0 } : { ok: false as const, reason: "no client certificate: in-cluster mode admits only the client certificate of the kubeconfig kubewire wrote" })
    : tokenAuth;
  // in-cluster: the client's Authorization goes upstream as it came, and its service account is recorded
  const withClientAuth = (req: { headers: IncomingMessage["headers"] }, exchange: Exchange, c: Record<string, string>): Record<string, string> => {
    if (!opts.passThroughAuthorization) return c;
    const sa = serviceAccountOf(req.headers.authorization);
    if (sa) exchange.source = { ...exchange.source, serviceAccount: sa };
    return typeof req.headers.authorization === "string" ? { ...c, authorization: req.headers.authorization } : c;
  };
  const guard = makeListenerGuard(opts.maxUnauthenticated ?? 256);
  const sockets = new Set<Duplex>();
  let drained: (() => void) | null = null;
  const track = (s: Duplex) => {
    sockets.add(s);
    s.once("close", () => {
      sockets.delete(s);
      if (sockets.size === 0 && drained) drained();
    });
  };
  /** Calls done once no client socket is open (a listener's handed-over sockets: the server counts none). */
  const whenNoSockets = (done: () => void) => {
    if (sockets.size === 0) return void setImmediate(done);
    drained = () => {
      drained = null;
      done();
    };
  };

  const credentialsFor = (up: Upstream, onReady: (c: Record<string, string>) => void, onFail: (e: UpstreamError) => void) => {
    const cached = up.cachedHeaders();
    if (cached) return onReady(cached);
    up.headers().then(onReady, (err: Error) => onFail(new UpstreamError(err.message, "CREDENTIALS", "credentials")));
  };

  /**
   * A request that proved the token, either protocol: its exchange, the replay marker, the fault rules, then
   * forwarding. `compat` gives the request and response objects a fault rule acts on (over HTTP/2 they are
   * made only when a rule fires).
   */
  const admitted = (c: ClientCall, address: string, identity: number, t0: number, startedAt: number, compat: () => { req: IncomingMessage; res: ServerResponse }) => {
    withRoute(
      identity,
      ({ upstream: up, forwarder }) => {
        const exchange = exchangeOf(c, up, startedAt, address);
        markReplay(c.headers, exchange);
        const go = (call: ClientCall) =>
          credentialsFor(
            up,
            (creds) => forwarder.forward(call, withClientAuth(call, exchange, creds), exchange, t0),
            (e) => forwarder.refuse(call, exchange, t0, e),
          );
        if (!opts.faults) return go(c);
        const rule = opts.faults.arrive(exchange); // fault: may answer, reset, hang, delay or shape the body instead
        if (!rule) return go(c);
        const { req, res } = compat();
        opts.faults.apply(rule, req, res, exchange, t0, sink, () => go(compatCall(req, res)));
      },
      () => (c.res ?? c.stream!).destroy(),
    );
  };

  // h2 and http/1.1 offered by ALPN, as kube-apiserver does; HTTP/1.1 connections (upgrades included)
  // are handled by node:http inside this server, exactly as https.Server would.
  const server = http2.createSecureServer({
    key: opts.server.keyPem,
    cert: opts.server.certPem,
    ca: opts.ca.certPem,
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    allowHTTP1: true,
    // in-cluster: no session tickets, so a resumed session still shows the client certificate
    ...(opts.passThroughAuthorization ? { secureOptions: cryptoConstants.SSL_OP_NO_TICKET } : {}),
  });
  /** A client without the proxy token: kubewire's 401, written the client's way (response, stream or raw socket), recorded as PROXY_AUTH. */
  const refuse = (exchange: Exchange, client: ClientHeaders, reason: string, t0: number, write: (status: number, headers: Record<string, string>, text: string) => Exchange["proxyAnswer"]): void => {
    exchange.error = { code: "PROXY_AUTH", message: reason, phase: "client" };
    const refusal = proxyAuthAnswer(client, reason);
    exchange.proxyAnswer = write(401, refusal.headers, refusal.text);
    exchange.timing.totalMs = round(performance.now() - t0);
    sink.record(exchange);
  };
  // HTTP/1.1 requests come as node:http's request and response.
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const startedAt = Date.now();
    const auth = authorize(req);
    if (!auth.ok) {
      req.resume();
      return refuse(exchangeOf(req, upstream, startedAt), req.headers, auth.reason, t0, (status, h, text) => answer(res, status, h, text));
    }
    guard.authenticated(req.socket);
    admitted(compatCall(req, res), req.socket.remoteAddress ?? "", auth.identity, t0, startedAt, () => ({ req, res }));
  });
  // HTTP/2 requests are answered on their streams, not through node:http2's compatibility objects, which a
  // 'request' listener would make for every stream (those the fault engine acts on get them, made below).
  server.removeAllListeners("stream");
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    stream.on("error", ignore); // each request records its own end
    // what the compatibility API answers before any request handler sees a stream
    if (headers[":method"] === "CONNECT") return void stream.respond({ ":status": 405 }, { endStream: true });
    if (headers.expect !== undefined) {
      if (headers.expect !== "100-continue") return void stream.respond({ ":status": 417 }, { endStream: true });
      stream.additionalHeaders({ ":status": 100 });
    }
    const t0 = performance.now();
    const startedAt = Date.now();
    const session = stream.session as http2.ServerHttp2Session;
    const conn = clientSessions.get(session) ?? clientConnection(session);
    const c = streamCall(stream, headers, rawHeaders, conn.raw);
    const auth = authorize({ headers, socket: conn.socket, stream });
    if (!auth.ok) {
      stream.resume();
      return refuse(exchangeOf(c, upstream, startedAt, conn.address), headers, auth.reason, t0, (status, h, text) => answerStream(stream, status, h, text));
    }
    guard.authenticated(conn.raw);
    admitted(c, conn.address, auth.identity, t0, startedAt, () => ({
      req: new http2.Http2ServerRequest(stream, headers, {}, rawHeaders) as unknown as IncomingMessage,
      res: new http2.Http2ServerResponse(stream) as unknown as ServerResponse,
    }));
  });
  // node:http2 adds its compatibility 'stream' listener with the first 'request' listener (above): had it come
  // back, every stream would be answered twice
  if (server.listenerCount("stream") !== 1) throw new Error("node:http2 keeps a 'stream' listener of its own: kubewire cannot answer HTTP/2 streams alone");
  // for HTTP/1.1 connections (node:http reads them from this server); watches and log streams last as long as they last
  Object.assign(server, { keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 0 });

  server.on("session", (session: http2.ServerHttp2Session) => {
    clientSessions.set(session, clientConnection(session));
    session.on("error", () => undefined);
    session.once("close", () => clientSessions.delete(session));
  });
  server.on("sessionError", () => undefined);
  server.on("connection", (s: Socket) => {
    // at most maxUnauthenticated connections wait for a handshake or a token; the longest-waiting goes first
    guard.admit(s);
    track(s);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const t0 = performance.now();
    const startedAt = Date.now();
    const auth = authorize(req);
    if (!auth.ok) return refuse(exchangeOf(req, upstream, startedAt), req.headers, auth.reason, t0, (status, h, text) => answerRaw(socket, status, h, text));
    guard.authenticated(req.socket);
    withRoute(
      auth.identity,
      ({ upstream: up, agent }) => {
        const exchange = exchangeOf(req, up, startedAt);
        markReplay(req.headers, exchange);
        credentialsFor(
          up,
          (c) => proxyUpgrade({ upstream: up, agent, sink, track }, req, socket, head, withClientAuth(req, exchange, c), exchange, t0, { headersTimeoutMs: opts.headersTimeoutMs ?? 60_000, captureLimit: opts.captureLimit ?? 64 * 1024 }),
          (e) => {
            const { text, headers } = noteFailure(exchange, e, up.server.origin, undefined, performance.now() - t0, req.headers);
            exchange.proxyAnswer = answerRaw(socket, 502, headers, text);
            exchange.timing.totalMs = round(performance.now() - t0);
            sink.record(exchange);
          },
        );
      },
      () => socket.destroy(),
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
    ...(upstream.clusterName ? { kubeCluster: upstream.clusterName } : {}),
    request: { method: "", path: "", query: "", headers: {}, body: null, bytes: 0 },
    info: { isResourceRequest: false, verb: "", apiPrefix: "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "" },
    response: null,
    timing: emptyTiming(),
    tls: null,
    error: { code, message, phase: "client" },
    stream: null,
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Requests Node's HTTP parser refused (headers too large, malformed request line...). https.Server
    // also routes every failed or timed-out TLS handshake here: no HTTP answer can be written on a socket
    // whose handshake never finished (end() would wait for it forever, and the socket stayed in
    // CLOSE-WAIT after the client left), so anything that is not a parser error just destroys the socket.
    if (!err.code?.startsWith("HPE_") || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const reason = `${tooLarge ? "request headers too large" : "malformed HTTP request"} (${err.code ?? err.message})`;
    const exchange = clientFailure(socket, "CLIENT_BAD_REQUEST", reason);
    exchange.proxyAnswer = answerRaw(socket, tooLarge ? 431 : 400, { "content-type": TEXT_PLAIN }, `kubewire: ${reason}`);
    sink.record(exchange);
  });
  server.on("tlsClientError", (err: NodeJS.ErrnoException, tlsSocket: TLSSocket) => {
    // A client that does not trust the local CA, or speaks plain HTTP to the TLS port. A client
    // that hangs up before its handshake said anything (load generators do) made no exchange.
    // A handshake deadline that passed is a silent connection, not a client to report either.
    tlsSocket.destroy();
    if (err.code === "ECONNRESET" || err.code === "ERR_TLS_HANDSHAKE_TIMEOUT") return;
    sink.record(clientFailure(tlsSocket, "CLIENT_TLS", `TLS handshake with the client failed: ${err.message.split("\n")[0]}`));
  });

  const host = opts.listener?.host ?? opts.host ?? "127.0.0.1";
  if (opts.listener) {
    opts.listener.take((s) => server.emit("connection", s));
    // a server that never listens itself never gets "listening", where Node starts tracking its HTTP/1.1
    // connections (the header deadline, closeIdleConnections at stop): start it as listen() would
    server.emit("listening");
  } else {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => reject(listenError(err, host, opts.port ?? 8443)));
      server.listen(opts.port ?? 8443, host, () => resolve());
    });
  }
  server.on("error", () => undefined);
  const address = { port: opts.listener?.port ?? (server.address() as { port: number }).port };
  const urlHost = host.includes(":") ? `[${host}]` : host;

  return {
    url: `https://${urlHost}:${address.port}`,
    host,
    port: address.port,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        // a listener's sockets were handed over, so the server counts none of them: wait for them here,
        // then close it (it stops tracking connections; not listening, it closes at once)
        if (opts.listener) {
          opts.listener.close();
          whenNoSockets(() => server.close());
        }
        server.once("close", () => resolve());
        if (!opts.listener) server.close();
        (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        // HTTP/2 clients get a GOAWAY: streams in flight finish (within the grace), new requests go elsewhere
        for (const s of clientSessions.keys()) if (!s.closed && !s.destroyed) s.close();
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
          closed = true;
          for (const r of opened) {
            r.agent.destroy();
            r.pool.destroy();
          }
        });
      }),
  };
}
