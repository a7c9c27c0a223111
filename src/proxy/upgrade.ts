// Proxies HTTP upgrades (exec, attach, port-forward) in both directions, WebSocket
// and SPDY/3.1 alike, by piping sockets: http-proxy's own handler refuses SPDY.
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange } from "../types.js";
import type { ExchangeSink } from "./forward.js";
import { answerRaw, noteFailure } from "./proxy-answer.js";
import { redactHeaders } from "./redact.js";
import { copyHandshake, countConnectionUse, round, upstreamTarget } from "./upstream-target.js";

/** Upgrades keep Connection and Upgrade; the client's proxy token and Host stay on this hop. */
const THIS_HOP = new Set(["authorization", "host"]);

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
  const target = upstreamTarget(upstream.server);
  const headers: Record<string, string | string[]> = { host: target.hostHeader };
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !THIS_HOP.has(k)) headers[k] = v;
  Object.assign(headers, credentials);
  const upReq = https.request({ host: target.host, port: target.port, method: req.method, path: target.basePath + (req.url ?? "/"), headers, agent: opts.agent });
  let recorded = false;
  let bytesIn = head.length;
  let bytesOut = 0;
  let endedBy: "client" | "server" | "proxy" = "server";
  const record = () => {
    if (recorded) return;
    recorded = true;
    exchange.timing.totalMs = round(performance.now() - t0);
    if (exchange.response?.status === 101) {
      exchange.stream = { kind: "upgrade", events: 0, bytesIn, bytesOut, durationMs: exchange.timing.totalMs, endedBy };
    }
    sink.record(exchange);
  };
  upReq.on("socket", (socket) => countConnectionUse(exchange, socket));
  client.on("error", () => undefined);
  client.once("close", () => {
    if (!exchange.response) {
      exchange.error ??= { code: "CLIENT_ABORTED", message: "the client closed the connection before the upgrade", phase: "headers" };
      upReq.destroy();
      record();
    }
  });
  upReq.on("upgrade", (res, upSocket, upHead) => {
    exchange.timing.ttfbMs = round(performance.now() - t0);
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
    exchange.timing.ttfbMs = round(performance.now() - t0);
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
    const { text, headers: answerHeaders } = noteFailure(exchange, err, target.href, connectionInfo(upReq.socket), performance.now() - t0);
    if (!exchange.response && client.writable) exchange.response = answerRaw(client, 502, answerHeaders, text);
    record();
  });
  upReq.end();
}
