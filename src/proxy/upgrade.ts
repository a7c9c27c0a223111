// Proxies HTTP upgrades (exec, attach, port-forward) in both directions, WebSocket and SPDY/3.1
// alike, by relaying sockets (http-proxy's own handler refuses SPDY); a refused or ignored upgrade
// is answered as an ordinary response, re-framed and redacted like any other.
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Upstream } from "../kubeconfig/upstream.js";
import { connectionInfo, UpstreamError, type UpstreamAgent } from "../tls/upstream-agent.js";
import type { Exchange, ExchangeError } from "../types.js";
import { BodyCapture } from "./body-capture.js";
import type { ExchangeSink } from "./forward.js";
import { endToEndResponseHeaders, upgradeRequestHeaders } from "./headers.js";
import { answerRaw, noteFailure, TEXT_PLAIN } from "./proxy-answer.js";
import { redactBody, redactHeaders } from "./redact.js";
import { copyHandshake, countConnectionUse, round, upstreamTarget } from "./upstream-target.js";

export interface UpgradeOptions {
  upstream: Upstream;
  agent: UpstreamAgent;
  sink: ExchangeSink;
  /** sockets kept so that shutdown can cut them */
  track: (socket: Duplex) => void;
}

/** Per-call settings; the defaults are ProxyOptions' defaults. */
export interface UpgradeTuning {
  /** how long the API server may take to answer the upgrade's headers, from the request's arrival (0: no limit) */
  headersTimeoutMs?: number;
  /** bytes kept of a request body and of a refused upgrade's body */
  captureLimit?: number;
  /** how long a side that ended is given to close after the other side closed, before it is cut */
  lingerMs?: number;
}

const DEFAULTS = { headersTimeoutMs: 60_000, captureLimit: 64 * 1024, lingerMs: 10_000 };

/** Statuses whose responses carry no body (RFC 9110 6.4.1). */
const NO_BODY = new Set([204, 304]);

function headLines(statusLine: string, rawHeaders: string[]): string {
  let head = `${statusLine}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * The body of the upgrade request itself, read off the raw socket (Node's parser hands the socket
 * over right after the headers): Content-Length bytes or a chunked body, de-chunked. What follows
 * it belongs to the upgraded protocol.
 */
class RequestBodyReader {
  private readonly chunked: boolean;
  private remaining: number;
  private state: "size" | "data" | "data-end" | "trailer" | "done";
  private line = "";

  constructor(req: IncomingMessage) {
    this.chunked = String(req.headers["transfer-encoding"] ?? "").toLowerCase().includes("chunked");
    const length = Number(req.headers["content-length"] ?? 0);
    this.remaining = !this.chunked && Number.isFinite(length) && length > 0 ? length : 0;
    this.state = this.chunked ? "size" : this.remaining > 0 ? "data" : "done";
  }

  get done(): boolean {
    return this.state === "done";
  }

  /** Splits `buf` into body bytes and, once the body is complete, what follows it. */
  feed(buf: Buffer): { body: Buffer[]; rest: Buffer | null } {
    const body: Buffer[] = [];
    let pos = 0;
    while (pos < buf.length && this.state !== "done") {
      if (this.state === "data") {
        const take = Math.min(this.remaining, buf.length - pos);
        body.push(buf.subarray(pos, pos + take));
        pos += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = this.chunked ? "data-end" : "done";
        continue;
      }
      // a line: a chunk size, the CRLF after a chunk's data, or a trailer line
      const nl = buf.indexOf(10, pos);
      const end = nl === -1 ? buf.length : nl + 1;
      this.line += buf.toString("latin1", pos, end);
      pos = end;
      if (nl === -1) continue;
      const text = this.line.trim();
      this.line = "";
      if (this.state === "data-end") this.state = "size";
      else if (this.state === "size") {
        const size = /^[0-9a-fA-F]+$/.test(text.split(";")[0].trim()) ? parseInt(text.split(";")[0], 16) : NaN;
        if (!Number.isFinite(size)) throw new Error(`malformed chunk size ${JSON.stringify(text.slice(0, 40))}`);
        this.state = size === 0 ? "trailer" : "data";
        this.remaining = size;
      } else if (text === "") this.state = "done";
    }
    return { body, rest: this.state === "done" ? buf.subarray(pos) : null };
  }
}

/** Bytes handed to a socket and those the socket took (its write callbacks): the difference never left kubewire. */
class Relay {
  queued = 0;
  delivered = 0;
  constructor(readonly to: Duplex) {}
  write(chunk: Buffer): boolean {
    if (!this.to.writable) return true;
    this.queued += chunk.length;
    return this.to.write(chunk, (err) => {
      if (!err) this.delivered += chunk.length;
    });
  }
  get pending(): number {
    return this.queued - this.delivered;
  }
}

export function proxyUpgrade(
  opts: UpgradeOptions,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  credentials: Record<string, string>,
  exchange: Exchange,
  t0: number,
  tuning: UpgradeTuning = {},
): void {
  const { upstream, sink } = opts;
  const { headersTimeoutMs, captureLimit, lingerMs } = { ...DEFAULTS, ...tuning };
  const target = upstreamTarget(upstream.server);
  const info = exchange.info;
  // Headers as an object (names keep their case and order) so that Node renders them at end(), after
  // being told not to invent a chunked body: the request goes framed as the client framed it.
  const headers: Record<string, string | string[]> = {};
  const nameAs = new Map<string, string>(); // repeated names (any case) go out under their first spelling
  const raw = upgradeRequestHeaders(req.rawHeaders, credentials, target.hostHeader);
  for (let i = 0; i < raw.length; i += 2) {
    const name = nameAs.get(raw[i].toLowerCase()) ?? raw[i];
    nameAs.set(raw[i].toLowerCase(), name);
    const had = headers[name];
    headers[name] = had === undefined ? raw[i + 1] : [...(Array.isArray(had) ? had : [had]), raw[i + 1]];
  }
  const upReq = https.request({ host: target.host, port: target.port, method: req.method, path: target.basePath + (req.url ?? "/"), headers, agent: opts.agent });
  upReq.useChunkedEncodingByDefault = false;

  let recorded = false;
  let bytesIn = 0;
  let bytesOut = 0;
  let endedBy: "client" | "server" | "proxy" | null = null;
  const reqBody = new BodyCapture(captureLimit);
  const record = () => {
    if (recorded) return;
    recorded = true;
    if (headerTimer) clearTimeout(headerTimer);
    exchange.timing.totalMs = round(performance.now() - t0);
    exchange.request.bytes = reqBody.size;
    exchange.request.body = redactBody(reqBody.result(), info, req.headers["content-type"]);
    if (exchange.response?.status === 101) {
      exchange.stream = { kind: "upgrade", events: 0, bytesIn, bytesOut, durationMs: exchange.timing.totalMs, endedBy: endedBy ?? "server" };
    }
    sink.record(exchange);
  };

  // The API server has until the deadline, counted from the request's arrival, to answer.
  let headerTimer: NodeJS.Timeout | null = null;
  if (headersTimeoutMs > 0) {
    const left = Math.max(0, headersTimeoutMs - (performance.now() - t0));
    headerTimer = setTimeout(() => upReq.destroy(new UpstreamError(`the API server sent no response headers within ${headersTimeoutMs} ms`, "ETIMEDOUT", "headers")), left);
    headerTimer.unref();
  }
  const answered = () => {
    if (headerTimer) clearTimeout(headerTimer);
    headerTimer = null;
    exchange.timing.ttfbMs = round(performance.now() - t0);
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

  // The request's own body goes upstream; what follows it waits for the 101.
  const body = new RequestBodyReader(req);
  let early: Buffer = Buffer.alloc(0);
  const takeBody = (buf: Buffer) => {
    let part: { body: Buffer[]; rest: Buffer | null };
    try {
      part = body.feed(buf);
    } catch (err) {
      const reason = `malformed chunked request body: ${(err as Error).message}`;
      exchange.error = { code: "CLIENT_BAD_REQUEST", message: reason, phase: "client" };
      client.removeListener("data", takeBody);
      upReq.destroy();
      exchange.proxyAnswer = answerRaw(client, 400, { "content-type": TEXT_PLAIN }, `kubewire: ${reason}`);
      record();
      return;
    }
    for (const b of part.body) {
      reqBody.push(b);
      upReq.write(b);
    }
    if (part.rest) {
      early = Buffer.concat([early, part.rest]);
      client.removeListener("data", takeBody);
      client.pause();
      upReq.end();
    }
  };
  if (body.done) {
    early = head;
    upReq.end();
  } else {
    takeBody(head);
    if (!body.done) client.on("data", takeBody);
  }

  upReq.on("upgrade", (res, upSocket: Socket, upHead: Buffer) => {
    answered();
    exchange.tls = connectionInfo(upSocket)?.tls ?? null;
    copyHandshake(exchange, connectionInfo(upSocket));
    exchange.response = { status: res.statusCode ?? 101, headers: redactHeaders(res.headers), body: null, bytes: 0 };
    opts.track(upSocket);
    client.removeListener("data", takeBody);
    relayBoth(client, upSocket, headLines(`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`, res.rawHeaders), upHead, early);
  });

  /**
   * Both directions until both sides are closed. A side that ends (FIN) or fails gets what is queued
   * for the other flushed and then an end(), never a destroy(); a side still open after the other
   * closed is given lingerMs to close before it is cut.
   */
  function relayBoth(c: Duplex, u: Socket, responseHead: string, upHead: Buffer, clientEarly: Buffer): void {
    const toClient = new Relay(c);
    const toServer = new Relay(u);
    const ended = { client: false, server: false };
    const closed = { client: false, server: false };
    let clientFailure: { err: NodeJS.ErrnoException; midStream: boolean } | null = null;
    const cut = () => (c as { kubewireCut?: boolean }).kubewireCut === true || (u as { kubewireCut?: boolean }).kubewireCut === true;
    const first = (who: "client" | "server") => {
      if (!endedBy) endedBy = cut() ? "proxy" : who;
    };
    const fail = (error: ExchangeError) => {
      if (!exchange.error) exchange.error = error;
    };

    // Each side may half-close: its FIN ends one direction only, the other keeps flowing.
    for (const side of [c, u] as Array<Duplex & { allowHalfOpen?: boolean }>) side.allowHalfOpen = true;
    c.write(responseHead);
    if (upHead.length) {
      bytesOut += upHead.length;
      toClient.write(upHead);
    }
    if (clientEarly.length) {
      bytesIn += clientEarly.length;
      toServer.write(clientEarly);
    }

    u.on("data", (chunk: Buffer) => {
      bytesOut += chunk.length;
      if (!toClient.write(chunk)) u.pause();
    });
    c.on("drain", () => u.resume());
    c.on("data", (chunk: Buffer) => {
      bytesIn += chunk.length;
      if (!toServer.write(chunk)) c.pause();
    });
    u.on("drain", () => c.resume());
    c.resume();

    const endSide = (side: Duplex) => {
      if (!side.writableEnded && !side.destroyed) side.end();
    };
    u.once("end", () => {
      ended.server = true;
      first("server");
      endSide(c);
    });
    c.once("end", () => {
      ended.client = true;
      first("client");
      endSide(u);
    });
    u.on("error", (err: NodeJS.ErrnoException) => {
      // Writing the client's late bytes to an API server that already closed (EPIPE, ECONNRESET)
      // is the normal end of a session; failing before it ended is the API server's failure.
      if (!ended.server && !ended.client) {
        fail({ code: err.code ?? "ECONNRESET", message: `the API server's connection failed mid-stream: ${err.message}`, phase: "body" });
      }
      ended.server = true;
      first("server");
      endSide(c);
    });
    c.on("error", (err: NodeJS.ErrnoException) => {
      if (!clientFailure) clientFailure = { err, midStream: !ended.server && !ended.client };
      ended.client = true;
      first("client");
      endSide(u);
    });

    const linger = (side: Duplex) => {
      const t = setTimeout(() => side.destroy(), lingerMs);
      t.unref();
      side.once("close", () => clearTimeout(t));
    };
    u.once("close", () => {
      closed.server = true;
      first("server");
      endSide(c);
      c.resume();
      if (closed.client) record();
      else linger(c);
    });
    c.once("close", () => {
      closed.client = true;
      first("client");
      // A client-side failure: bytes for the client that never left kubewire, or a connection that
      // failed before either side ended the session.
      const cause = clientFailure ? ` (${clientFailure.err.code ?? clientFailure.err.message})` : "";
      if (toClient.pending > 0 && !cut()) {
        fail({ code: "CLIENT_ABORTED", message: `the client's connection ended${cause} with ${toClient.pending} bytes from the API server not delivered`, phase: "client" });
      } else if (clientFailure?.midStream && !cut()) {
        fail({ code: "CLIENT_ABORTED", message: `the client's connection failed mid-stream${cause}`, phase: "client" });
      }
      endSide(u);
      u.resume(); // nothing more can reach the client: let the API server finish writing
      if (closed.server) record();
      else linger(u);
    });
  }

  upReq.on("response", (res) => {
    // The upstream refused the upgrade (401, 403, 400...) or answered it as an ordinary request:
    // its answer goes back with its end-to-end headers and a body framed by kubewire.
    answered();
    exchange.tls = connectionInfo(res.socket)?.tls ?? null;
    copyHandshake(exchange, connectionInfo(res.socket));
    const status = res.statusCode ?? 502;
    exchange.response = { status, headers: redactHeaders(res.headers), body: null, bytes: 0 };
    if (status === 401) upstream.invalidate();
    const hasBody = !NO_BODY.has(status) && req.method !== "HEAD";
    const length = res.headers["content-length"];
    const chunked = hasBody && (length === undefined || res.headers["transfer-encoding"] !== undefined);
    const framing = !hasBody ? [] : chunked ? ["Transfer-Encoding", "chunked"] : ["Content-Length", String(length)];
    client.write(headLines(`HTTP/1.1 ${status} ${res.statusMessage}`, [...endToEndResponseHeaders(res.rawHeaders), ...framing, "Connection", "close"]));
    const capture = new BodyCapture(captureLimit);
    res.on("data", (c: Buffer) => {
      capture.push(c);
      if (!hasBody || client.destroyed) return;
      client.write(chunked ? Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from("\r\n")]) : c);
    });
    let finished = false;
    const finish = (complete: boolean) => {
      if (finished) return;
      finished = true;
      exchange.response!.bytes = capture.size;
      exchange.response!.body = redactBody(capture.result(), info, res.headers["content-type"]);
      if (complete) client.end(chunked ? "0\r\n\r\n" : undefined);
      else {
        exchange.error ??= { code: "ECONNRESET", message: "the API server closed the connection mid-response", phase: "body" };
        client.destroy();
      }
      record();
    };
    res.once("end", () => finish(true));
    res.once("aborted", () => finish(false));
    res.once("error", () => finish(false));
  });

  upReq.on("error", (err) => {
    if (recorded) return;
    const { text, headers: answerHeaders } = noteFailure(exchange, err, target.href, connectionInfo(upReq.socket), performance.now() - t0, req.headers);
    if (!exchange.response && !exchange.proxyAnswer && client.writable) exchange.proxyAnswer = answerRaw(client, 502, answerHeaders, text);
    record();
  });
}
