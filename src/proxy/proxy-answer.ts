// What kubewire answers itself (an upstream it cannot reach, a client without the proxy token,
// a request Node refused): written to the client once, and recorded as the exchange's proxyAnswer
// beside its error, never as a response (the API server did not answer).
import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { ConnectionInfo } from "../tls/upstream-agent.js";
import type { Exchange, ProxyAnswer } from "../types.js";
import { classifyFailure, failureText } from "./failure-message.js";
import { copyHandshake, round } from "./upstream-target.js";

export const TEXT_PLAIN = "text/plain; charset=utf-8";

function recorded(status: number, headers: Record<string, string>, text: string): ProxyAnswer {
  return { status, headers, body: { data: text, encoding: "utf8", truncated: false, size: Buffer.byteLength(text) } };
}

/** Answers on an HTTP response; returns what to record as the exchange's proxyAnswer. */
export function answer(res: ServerResponse, status: number, headers: Record<string, string>, text: string): ProxyAnswer {
  res.writeHead(status, headers);
  res.end(text);
  return recorded(status, headers, text);
}

/** Answers on a raw socket (an upgrade, or a request Node's parser refused), then closes it; returns what to record as the proxyAnswer. */
export function answerRaw(socket: Duplex, status: number, headers: Record<string, string>, text: string): ProxyAnswer {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  socket.end(`${head}content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  return recorded(status, headers, text);
}

/**
 * Notes an upstream failure on the exchange (error, the chain seen, the handshake phases, when it
 * was known) and returns the `kubewire:` line that kubectl shows verbatim from a text/plain 502.
 */
export function noteFailure(ex: Exchange, err: unknown, target: string, conn: ConnectionInfo | undefined, elapsedMs: number): { text: string; headers: Record<string, string> } {
  const failure = classifyFailure(err, target);
  ex.error = failure.error;
  if (conn?.tls) ex.tls = conn.tls;
  else if (failure.chain.length) ex.tls = { protocol: null, cipher: null, alpn: null, resumed: false, chain: failure.chain };
  copyHandshake(ex, conn);
  ex.timing.ttfbMs = round(elapsedMs);
  return { text: failureText(failure, target), headers: { "content-type": TEXT_PLAIN, "x-kubewire-error": failure.error.code } };
}
