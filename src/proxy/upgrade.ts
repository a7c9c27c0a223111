// Proxies HTTP upgrades (exec, attach, port-forward) in both directions, WebSocket
// and SPDY/3.1 alike, by piping sockets: http-proxy's own handler refuses SPDY.
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange } from "../types.js";
import { classifyFailure, failureText } from "./failure-message.js";
import { copyHandshake, type ExchangeSink } from "./forward.js";
import { redactHeaders } from "./redact.js";

const HOP_BY_HOP = new Set(["authorization", "host"]);

function headLines(statusLine: string, rawHeaders: string[]): string {
  let head = `${statusLine}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

export interface UpgradeOptions {
  upstream: Upstream;
  agent: UpstreamAgent;
  sink: ExchangeSink;
  /** sockets kept so that shutdown can cut them */
  track: (socket: Duplex) => void;
}

export function proxyUpgrade(
  opts: UpgradeOptions,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  credentials: Record<string, string>,
  exchange: Exchange,
  t0: number,
): void {
  const { upstream, sink } = opts;
  const target = upstream.server;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
  Object.assign(headers, credentials);
  const basePath = target.pathname === "/" ? "" : target.pathname.replace(/\/$/, "");
  const upReq = https.request({
    host: target.hostname.replace(/^\[|\]$/g, ""),
    port: Number(target.port || 443),
    method: req.method,
    path: basePath + (req.url ?? "/"),
    headers,
    agent: opts.agent,
  });
  let recorded = false;
  let bytesIn = head.length;
  let bytesOut = 0;
  let endedBy: "client" | "server" | "proxy" = "server";
  const record = () => {
    if (recorded) return;
    recorded = true;
    exchange.timing.totalMs = Math.round((performance.now() - t0) * 1000) / 1000;
    if (exchange.response?.status === 101) {
      exchange.stream = { kind: "upgrade", events: 0, bytesIn, bytesOut, durationMs: exchange.timing.totalMs, endedBy };
    }
    sink.record(exchange);
  };
  upReq.on("socket", (socket) => {
    const conn = connectionInfo(socket);
    if (!conn) return;
    if (conn.uses > 0) exchange.timing.reusedConnection = true;
    conn.uses++;
  });
  client.on("error", () => undefined);
  client.once("close", () => {
    if (!exchange.response) {
      exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection before the upgrade", phase: "headers" };
      upReq.destroy();
      record();
    }
  });
  upReq.on("upgrade", (res, upSocket, upHead) => {
    exchange.timing.ttfbMs = Math.round((performance.now() - t0) * 1000) / 1000;
    exchange.tls = connectionInfo(upSocket)?.tls ?? null;
    copyHandshake(exchange, connectionInfo(upSocket));
    exchange.response = { status: res.statusCode ?? 101, headers: redactHeaders(res.headers), body: null, bytes: 0, fromProxy: false };
    opts.track(upSocket);
    client.write(headLines(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders));
    if (upHead.length) {
      bytesOut += upHead.length;
      client.write(upHead);
    }
    if (head.length) upSocket.write(head);
    upSocket.on("data", (c: Buffer) => (bytesOut += c.length));
    client.on("data", (c: Buffer) => (bytesIn += c.length));
    upSocket.on("error", () => client.destroy());
    upSocket.once("end", () => (endedBy = "server"));
    client.once("end", () => (endedBy = "client"));
    upSocket.pipe(client);
    client.pipe(upSocket);
    let closed = 0;
    const onClose = (who: "client" | "server") => () => {
      if (closed === 0 && who === "client" && (client as { kubewireCut?: boolean }).kubewireCut) endedBy = "proxy";
      else if (closed === 0) endedBy = who;
      closed++;
      if (who === "client") upSocket.destroy();
      else client.end();
      if (closed >= 1) record();
    };
    upSocket.once("close", onClose("server"));
    client.once("close", onClose("client"));
  });
  upReq.on("response", (res) => {
    // the upstream refused the upgrade (401, 403, 400...): hand its answer back as is
    exchange.timing.ttfbMs = Math.round((performance.now() - t0) * 1000) / 1000;
    exchange.tls = connectionInfo(res.socket)?.tls ?? null;
    copyHandshake(exchange, connectionInfo(res.socket));
    exchange.response = { status: res.statusCode ?? 0, headers: redactHeaders(res.headers), body: null, bytes: 0, fromProxy: false };
    client.write(headLines(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders));
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => {
      if (chunks.length < 64) chunks.push(c);
      exchange.response!.bytes += c.length;
    });
    res.pipe(client);
    res.once("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      exchange.response!.body = text ? { data: text, encoding: "utf8", truncated: false, size: exchange.response!.bytes } : null;
      record();
    });
  });
  upReq.on("error", (err) => {
    const failure = classifyFailure(err, target.href);
    exchange.error = failure.error;
    if (failure.chain.length) exchange.tls = { protocol: null, cipher: null, alpn: null, resumed: false, chain: failure.chain };
    if (!exchange.response && client.writable) {
      const text = failureText(failure, target.href);
      client.end(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
      exchange.response = { status: 502, headers: { "content-type": "text/plain; charset=utf-8" }, body: { data: text, encoding: "utf8", truncated: false, size: Buffer.byteLength(text) }, bytes: Buffer.byteLength(text), fromProxy: true };
    }
    record();
  });
  upReq.end();
}
