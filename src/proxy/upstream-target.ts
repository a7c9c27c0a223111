// Where requests go and what each one learns from its upstream connection: host, port, Host
// header and base path of the API server URL; whether the connection was reused; its handshake phases.
import type { Socket } from "node:net";
import { connectionInfo, type ConnectionInfo } from "../tls/upstream-agent.js";
import type { Exchange } from "../types.js";

export interface UpstreamTarget {
  /** the server URL without a trailing slash, as messages name it */
  href: string;
  host: string;
  port: number;
  /** host[:port] as the URL has it (the port is omitted when it is 443) */
  hostHeader: string;
  /** a path prefix of the server URL ("" for none), put before every request path */
  basePath: string;
}

export function upstreamTarget(server: URL): UpstreamTarget {
  return {
    href: server.href.replace(/\/$/, ""),
    host: server.hostname.replace(/^\[|\]$/g, ""),
    port: Number(server.port || 443),
    hostHeader: server.host,
    basePath: server.pathname === "/" ? "" : server.pathname.replace(/\/$/, ""),
  };
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Counts a request on its upstream connection; marks the exchange when the connection was reused. */
export function countConnectionUse(ex: Exchange, socket: Socket | null | undefined): void {
  countUse(ex, connectionInfo(socket));
}

/**
 * The same, given the connection (an HTTP/2 session's, or an HTTP/1.1 socket's). A connection opened ahead
 * (preconnect) is reused by a request that arrived once it was ready; one that arrived while it was being
 * opened waited on its handshake, as the request that opens a connection does, and gets its phases.
 */
export function countUse(ex: Exchange, conn: ConnectionInfo | undefined): void {
  if (!conn) return;
  if (conn.uses > 0 || (conn.readyAheadAt !== undefined && ex.startedAt >= conn.readyAheadAt)) ex.timing.reusedConnection = true;
  conn.uses++;
}

/** The DNS, connect and TLS phases of the connection, for the request that opened it. */
export function copyHandshake(ex: Exchange, conn: ConnectionInfo | undefined): void {
  if (!conn || ex.timing.reusedConnection) return;
  ex.timing.dnsMs = round(conn.dnsMs);
  ex.timing.connectMs = round(conn.connectMs);
  ex.timing.tlsMs = round(conn.tlsMs);
}
