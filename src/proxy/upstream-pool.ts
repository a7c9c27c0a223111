// The upstream connections requests ride, chosen by ALPN as the API server offers: one HTTP/2
// session per upstream with many streams on it (another when its streams are all in use or it is
// going away), or the HTTP/1.1 agent when the server does not speak h2. Watches each session as
// client-go does: a PING after a read-idle interval, the session lost when no answer comes in time.
import http2 from "node:http2";
import { connectionInfo, UpstreamError, type ConnectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { UpstreamTarget } from "./upstream-target.js";

/** One HTTP/2 session to the API server. */
export interface H2Connection {
  id: number;
  session: http2.ClientHttp2Session;
  info: ConnectionInfo;
  /** streams open (or about to be) on it */
  active: number;
  /** the server's SETTINGS_MAX_CONCURRENT_STREAMS (a guess of 100 until its SETTINGS arrive) */
  limit: number;
  /** no new streams: the server sent GOAWAY, or the session was lost */
  goingAway: boolean;
  /** set when kubewire gave the session up for dead (no PING answer): its streams end with this */
  lost: UpstreamError | null;
  /** performance.now() of the last frame read that kubewire saw (response, data, trailers, PING ack) */
  lastRead: number;
  /** client-side HTTP/2 sessions whose streams rode this one, told when it goes away */
  riders: Set<http2.Http2Session>;
}

export type Lease = { kind: "h2"; conn: H2Connection } | { kind: "http/1.1" };

export interface UpstreamPoolOptions {
  agent: UpstreamAgent;
  target: UpstreamTarget;
  /** PING a session after this long with nothing read (default 30 s, as client-go) */
  keepaliveIdleMs?: number;
  /** and give it up when the PING is not answered within this (default 15 s, as client-go) */
  keepaliveTimeoutMs?: number;
  /** the server sent GOAWAY on this session */
  onGoaway?: (conn: H2Connection) => void;
}

type Waiter = (err: Error | null, lease?: Lease) => void;

/** Streams promised to a session still connecting, before its SETTINGS say how many it takes. */
const FIRST_SESSION_GUESS = 100;

export class UpstreamPool {
  private mode: "unknown" | "h2" | "http/1.1" = "unknown";
  private readonly sessions = new Set<H2Connection>();
  private readonly connecting = new Set<Waiter[]>();
  private closed = false;
  private readonly idleMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: UpstreamPoolOptions) {
    this.idleMs = opts.keepaliveIdleMs ?? 30_000;
    this.timeoutMs = opts.keepaliveTimeoutMs ?? 15_000;
  }

  /** What the server spoke last: "h2", "http/1.1", or "unknown" before the first connection. */
  get protocol(): string {
    return this.mode;
  }

  /** A stream slot on a session with room, a new session, or the HTTP/1.1 agent. Never queues behind a cap. */
  acquire(done: Waiter): void {
    if (this.closed) return done(new UpstreamError("kubewire is shutting down", "PROXY_CLOSING", "connect"));
    if (this.mode === "http/1.1") return done(null, { kind: "http/1.1" });
    for (const conn of this.sessions) {
      if (usable(conn) && conn.active < conn.limit) {
        conn.active++;
        return done(null, { kind: "h2", conn });
      }
    }
    for (const waiters of this.connecting) {
      if (waiters.length < FIRST_SESSION_GUESS) return void waiters.push(done);
    }
    this.connect(done);
  }

  /** A stream on this session ended. */
  release(conn: H2Connection): void {
    conn.active = Math.max(0, conn.active - 1);
  }

  /** Something was read on this session. */
  touch(conn: H2Connection): void {
    conn.lastRead = performance.now();
  }

  destroy(): void {
    this.closed = true;
    for (const conn of this.sessions) conn.session.destroy();
    this.sessions.clear();
  }

  private connect(first: Waiter): void {
    const waiters: Waiter[] = [first];
    this.connecting.add(waiters);
    const { host, port } = this.opts.target;
    this.opts.agent.connectSecure(host, port, ["h2", "http/1.1"], (err, socket) => {
      this.connecting.delete(waiters);
      if (err || !socket) return void waiters.forEach((w) => w(err ?? new Error("no connection")));
      if (this.closed) {
        socket.destroy();
        return void waiters.forEach((w) => w(new UpstreamError("kubewire is shutting down", "PROXY_CLOSING", "connect")));
      }
      if (socket.alpnProtocol !== "h2") {
        // The server speaks HTTP/1.1 only: from now on the agent's connections carry every request.
        this.mode = "http/1.1";
        socket.destroy();
        return void waiters.forEach((w) => w(null, { kind: "http/1.1" }));
      }
      this.mode = "h2";
      const conn = this.open(socket);
      for (const w of waiters) {
        conn.active++;
        w(null, { kind: "h2", conn });
      }
    });
  }

  private open(socket: import("node:tls").TLSSocket): H2Connection {
    const info = connectionInfo(socket)!;
    const session = http2.connect(this.opts.target.href, { createConnection: () => socket, settings: { enablePush: false } });
    const conn: H2Connection = { id: info.id, session, info, active: 0, limit: FIRST_SESSION_GUESS, goingAway: false, lost: null, lastRead: performance.now(), riders: new Set() };
    this.sessions.add(conn);
    session.on("remoteSettings", (s) => {
      conn.limit = s.maxConcurrentStreams ?? conn.limit;
      this.touch(conn);
    });
    session.on("goaway", () => {
      conn.goingAway = true;
      this.opts.onGoaway?.(conn);
    });
    session.on("error", () => undefined); // each stream reports its own end
    let timer: NodeJS.Timeout | null = null;
    const schedule = (ms: number) => {
      timer = setTimeout(check, Math.max(1, ms));
      timer.unref();
    };
    const check = () => {
      if (session.destroyed || session.closed) return;
      const idle = performance.now() - conn.lastRead;
      if (idle < this.idleMs) return schedule(this.idleMs - idle);
      const deadline = setTimeout(() => this.lose(conn, `the API server did not answer a PING within ${this.timeoutMs} ms after ${Math.round(idle)} ms with nothing read`), this.timeoutMs);
      deadline.unref();
      try {
        session.ping((err) => {
          clearTimeout(deadline);
          if (err) return;
          this.touch(conn);
          schedule(this.idleMs);
        });
      } catch {
        clearTimeout(deadline);
      }
    };
    schedule(this.idleMs);
    session.once("close", () => {
      if (timer) clearTimeout(timer);
      conn.goingAway = true;
      this.sessions.delete(conn);
    });
    return conn;
  }

  /** Gives a session up for dead: every stream on it ends now, each recorded as UPSTREAM_LOST. */
  private lose(conn: H2Connection, message: string): void {
    if (conn.session.destroyed) return;
    conn.lost = new UpstreamError(`connection to the API server lost: ${message}`, "UPSTREAM_LOST", "body");
    conn.goingAway = true;
    this.sessions.delete(conn);
    conn.session.destroy(conn.lost);
  }
}

function usable(conn: H2Connection): boolean {
  return !conn.goingAway && !conn.session.closed && !conn.session.destroyed;
}
