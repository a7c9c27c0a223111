// The keep-alive agent for upstream connections: verifies the API server's certificate
// as the kubeconfig says, keeps each connection's chain and handshake timing, and
// names the phase (dns, connect, tls) where a connection failed or timed out. HTTP/1.1
// requests use it as an https.Agent; HTTP/2 sessions get their sockets from connectSecure().
import https from "node:https";
import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import type { UpstreamTls } from "../kubeconfig/upstream.js";
import type { CertInfo, TlsSession } from "../types.js";
import { peerChain, tlsSession } from "./cert-info.js";

export interface ConnectionInfo {
  dnsMs: number;
  connectMs: number;
  tlsMs: number;
  tls: TlsSession | null;
  /** requests sent on this connection so far */
  uses: number;
  /**
   * opened ahead of any request (exec's preconnect): when it was ready (epoch ms). A request that arrived
   * after that reuses it, as a later one would; one that arrived sooner waited on its handshake.
   */
  readyAheadAt?: number;
  /** numbered per process, as exchanges name the upstream connection they rode */
  id: number;
}

/** An upstream failure, classified: code is a Node/OpenSSL code or ETIMEDOUT; phase says where. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly phase: "dns" | "connect" | "tls" | "headers" | "body" | "credentials",
    readonly chain: CertInfo[] = [],
    /** the kubeconfig's proxy-url (scheme://host:port, never its credentials) when reaching it is what failed */
    readonly proxy?: string,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export interface UpstreamAgentOptions {
  tls: UpstreamTls;
  connectTimeoutMs?: number;
  tlsTimeoutMs?: number;
  /** http(s)://host:port of a forward proxy to tunnel through (kubeconfig proxy-url) */
  proxyUrl?: string;
  /** no cap by default: a cap queues the request after it silently (Node's agent has no queue deadline) */
  maxSockets?: number;
  /** TCP keepalive on HTTP/1.1 upstream sockets: first probe after this much idle time (default 30 s) */
  keepaliveIdleMs?: number;
}

let nextConnectionId = 1;

const connections = new WeakMap<object, ConnectionInfo>();

export function connectionInfo(socket: object | null | undefined): ConnectionInfo | undefined {
  return socket ? connections.get(socket) : undefined;
}

/** Messages in the words Go's crypto/x509 uses, so kubectl users recognise them. */
const VERIFY_MESSAGES: Record<string, string> = {
  CERT_HAS_EXPIRED: "x509: certificate has expired or is not yet valid",
  CERT_NOT_YET_VALID: "x509: certificate has expired or is not yet valid (not yet valid)",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "x509: certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "x509: certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT: "x509: certificate signed by unknown authority (incomplete chain)",
  SELF_SIGNED_CERT_IN_CHAIN: "x509: certificate signed by unknown authority (self-signed certificate in chain)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "x509: certificate signed by unknown authority (self-signed certificate)",
  ERR_TLS_CERT_ALTNAME_INVALID: "x509: certificate is not valid for the host",
};

export function verifyMessage(code: string): string {
  return VERIFY_MESSAGES[code] ?? `x509: certificate verification failed (${code})`;
}

export class UpstreamAgent extends https.Agent {
  private readonly opts: UpstreamAgentOptions;

  constructor(opts: UpstreamAgentOptions) {
    // Session resumption would leave resumed sockets without a peer certificate: off.
    super({ keepAlive: true, maxSockets: opts.maxSockets ?? Infinity, maxCachedSessions: 0, scheduling: "lifo" });
    this.opts = opts;
  }

  override createConnection(options: any, callback?: (err: Error | null, socket: Duplex) => void): Duplex | undefined {
    const host: string = options.host ?? options.hostname ?? "localhost";
    const port = Number(options.port ?? 443);
    const done = callback ?? (() => undefined);
    if (this.opts.proxyUrl) {
      tunnel(this.opts.proxyUrl, host, port, this.opts.connectTimeoutMs ?? 10_000)
        .then((raw) => done(null, this.secure(raw, host, port, 0, 0, ["http/1.1"])))
        .catch((err) => done(err, undefined as unknown as Duplex));
      return undefined;
    }
    const socket = this.secure(undefined, host, port, undefined, undefined, ["http/1.1"]);
    // HTTP/1.1 has no PING: the kernel's keepalive probes notice a dead peer instead
    socket.setKeepAlive(true, this.opts.keepaliveIdleMs ?? 30_000);
    return socket;
  }

  /**
   * A verified TLS connection offering `alpn` (for HTTP/2 sessions), through the kubeconfig's proxy when
   * it has one; calls back once the handshake and the certificate checks passed, or with the UpstreamError.
   */
  connectSecure(host: string, port: number, alpn: string[], done: (err: Error | null, socket?: tls.TLSSocket) => void): void {
    const start = (raw: net.Socket | undefined, dnsMs?: number, connectMs?: number) => {
      const socket = this.secure(raw, host, port, dnsMs, connectMs, alpn);
      const fail = (err: Error) => {
        socket.off("secureConnect", ok);
        done(err);
      };
      const ok = () => {
        // the certificate checks run first (their listener was added first) and destroy a socket they
        // refuse: its error then reaches `fail`
        if (socket.destroyed) return;
        socket.off("error", fail);
        done(null, socket);
      };
      socket.once("error", fail);
      socket.once("secureConnect", ok);
    };
    if (this.opts.proxyUrl) tunnel(this.opts.proxyUrl, host, port, this.opts.connectTimeoutMs ?? 10_000).then((raw) => start(raw, 0, 0), (err: Error) => done(err));
    else start(undefined);
  }

  /** Starts TLS over `raw` (a tunnel) or over a new TCP connection, timing each phase. */
  private secure(raw: net.Socket | undefined, host: string, port: number, dnsMs: number | undefined, connectMs: number | undefined, alpn: string[]): tls.TLSSocket {
    const { tls: t } = this.opts;
    const servername = t.servername ?? (net.isIP(host) ? undefined : host);
    const started = performance.now();
    const info: ConnectionInfo = { dnsMs: dnsMs ?? 0, connectMs: connectMs ?? 0, tlsMs: 0, tls: null, uses: 0, id: nextConnectionId++ };
    let phase: "dns" | "connect" | "tls" = raw ? "tls" : net.isIP(host) ? "connect" : "dns";
    let mark = started;
    const socket = tls.connect({
      host,
      port,
      socket: raw,
      servername,
      ca: t.ca,
      cert: t.cert,
      key: t.key,
      rejectUnauthorized: false, // verified below, after the chain is kept
      ALPNProtocols: alpn,
    });
    connections.set(socket, info);
    const connectTimeout = this.opts.connectTimeoutMs ?? 10_000;
    const tlsTimeout = this.opts.tlsTimeoutMs ?? 10_000;
    // A deadline per phase (not the socket's idle timer, which our own ClientHello resets).
    let deadline: NodeJS.Timeout | null = null;
    const arm = (ms: number) => {
      if (deadline) clearTimeout(deadline);
      deadline = setTimeout(onTimeout, ms);
      deadline.unref();
    };
    const disarm = () => {
      if (deadline) clearTimeout(deadline);
      deadline = null;
    };
    const onTimeout = () => {
      const limit = phase === "tls" ? tlsTimeout : connectTimeout;
      const what = phase === "dns" ? "DNS lookup" : phase === "connect" ? "TCP connect" : "TLS handshake";
      socket.destroy(new UpstreamError(`${what} to ${host}:${port} timed out after ${limit} ms`, "ETIMEDOUT", phase));
    };
    arm(raw ? tlsTimeout : connectTimeout);
    socket.once("close", disarm);
    socket.once("lookup", (err: Error | null) => {
      if (err) return;
      const now = performance.now();
      info.dnsMs = now - mark;
      mark = now;
      phase = "connect";
    });
    socket.once("connect", () => {
      const now = performance.now();
      info.connectMs = now - mark;
      mark = now;
      phase = "tls";
      arm(tlsTimeout);
    });
    socket.once("secureConnect", () => {
      info.tlsMs = performance.now() - mark;
      disarm();
      const chain = peerChain(socket);
      info.tls = tlsSession(socket, chain);
      if (!t.verify) return countOpen(socket);
      let code: string | null = null;
      if (!socket.authorized && socket.authorizationError) {
        code = String((socket.authorizationError as unknown as { code?: string }).code ?? socket.authorizationError);
      } else if (tls.checkServerIdentity(servername ?? host, socket.getPeerCertificate())) {
        code = "ERR_TLS_CERT_ALTNAME_INVALID";
      }
      const detail = code === "ERR_TLS_CERT_ALTNAME_INVALID" ? hostMismatchDetail(servername ?? host, chain[0]) : "";
      if (code) {
        socket.destroy(new UpstreamError(detail || verifyMessage(code), code, "tls", chain));
        return;
      }
      countOpen(socket);
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // annotate plain socket errors with the phase they happened in
      if (!(err instanceof UpstreamError)) (err as { phase?: string }).phase ??= err.code === "ENOTFOUND" || err.code === "EAI_AGAIN" ? "dns" : phase;
    });
    return socket;
  }
}

/** Verified connections to API servers open now, by protocol (kubewire_upstream_connections reads it at scrape time). */
const open = new Map<string, number>();

function countOpen(socket: tls.TLSSocket): void {
  const protocol = socket.alpnProtocol === "h2" ? "h2" : "http/1.1";
  open.set(protocol, (open.get(protocol) ?? 0) + 1);
  socket.once("close", () => open.set(protocol, (open.get(protocol) ?? 1) - 1));
}

export function openUpstreamConnections(): ReadonlyMap<string, number> {
  return open;
}

/** Go's x509.HostnameError wording, so the line reads as kubectl would print it without kubewire. */
export function hostMismatchDetail(host: string, leaf: CertInfo | undefined): string {
  const san = leaf?.san ?? [];
  if (net.isIP(host)) {
    const ips = san.filter((s) => s.startsWith("IP:")).map((s) => s.slice(3));
    return ips.length ? `x509: certificate is valid for ${ips.join(", ")}, not ${host}` : `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`;
  }
  const names = san.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4));
  if (names.length) return `x509: certificate is valid for ${names.join(", ")}, not ${host}`;
  return san.length ? `x509: certificate is not valid for any names, but wanted to match ${host}` : "x509: certificate relies on legacy Common Name field, use SANs instead";
}

/** HTTP CONNECT through a forward proxy. */
function tunnel(proxyUrl: string, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const proxy = new URL(proxyUrl);
    const at = `${proxy.protocol}//${proxy.host}`; // without the credentials a proxy-url may carry
    const headers: Record<string, string> = { host: `${host}:${port}` };
    if (proxy.username) {
      const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers["proxy-authorization"] = `Basic ${Buffer.from(cred).toString("base64")}`;
    }
    const mod = proxy.protocol === "https:" ? https : http;
    const req = mod.request({
      method: "CONNECT",
      host: proxy.hostname,
      port: Number(proxy.port || (proxy.protocol === "https:" ? 443 : 80)),
      path: `${host}:${port}`,
      headers,
      timeout: timeoutMs,
    });
    req.once("connect", (res, socket) => {
      if (res.statusCode === 200) resolve(socket);
      else {
        socket.destroy();
        reject(new UpstreamError(`proxy ${proxy.host} refused CONNECT to ${host}:${port}: ${res.statusCode}`, "PROXY_CONNECT", "connect", [], at));
      }
    });
    req.once("timeout", () => req.destroy(new UpstreamError(`proxy ${proxy.host} did not answer CONNECT within ${timeoutMs} ms`, "ETIMEDOUT", "connect", [], at)));
    req.once("error", (err: NodeJS.ErrnoException) => reject(err instanceof UpstreamError ? err : new UpstreamError(`proxy ${proxy.host}: ${err.message}`, err.code ?? "PROXY_CONNECT", "connect", [], at)));
    req.end();
  });
}
