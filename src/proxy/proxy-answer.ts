// What kubewire answers itself (an upstream it cannot reach, a client without the proxy token,
// a request Node refused): written to the client once, and recorded as the exchange's proxyAnswer
// beside its error, never as a response (the API server did not answer).
import type { ServerResponse } from "node:http";
import type { ServerHttp2Stream } from "node:http2";
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

/** Answers on an HTTP/2 stream (the stream API); returns what to record as the exchange's proxyAnswer. */
export function answerStream(stream: ServerHttp2Stream, status: number, headers: Record<string, string>, text: string): ProxyAnswer {
  stream.respond({ ...headers, ":status": status });
  stream.end(text);
  return recorded(status, headers, text);
}

/** Answers on a raw socket (an upgrade, or a request Node's parser refused), then closes it; returns what to record as the proxyAnswer. */
export function answerRaw(socket: Duplex, status: number, headers: Record<string, string>, text: string): ProxyAnswer {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  socket.end(`${head}content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  return recorded(status, headers, text);
}

/** The request headers kubewire reads to choose how to word its answer. */
export type ClientHeaders = Record<string, string | string[] | undefined>;

/**
 * client-go's User-Agent: `NAME/VERSION (OS/ARCH) kubernetes/COMMIT` by default (kubectl, controllers,
 * operators), or without the commit as kubectl's own `kubectl-dispatcher/v1.0 (linux/amd64)` /version probe.
 */
const CLIENT_GO = /^\S+\/\S+ \([a-z0-9]+\/[a-z0-9_]+\)( kubernetes\/\S+)?$/;

/** Media types a Status can be written in: JSON itself, or what kube-apiserver would also answer with a Status. */
const STATUS_TYPES = new Set(["application/json", "application/*", "*/*", "application/vnd.kubernetes.protobuf", "application/yaml"]);

/**
 * How kubewire words its own answer for this client, as kube-apiserver negotiates a Status: a JSON `Status`
 * whenever the client accepts JSON, anything (a bare star), protobuf (a Status in JSON is what client-go decodes
 * whatever it asked for, as kube-apiserver falls back to JSON) or says nothing; text/plain only for a client
 * that accepts text and not JSON. One exception, measured with kubectl 1.32: client-go shows a text/plain
 * 5xx body verbatim on every path, but drops a JSON Status on discovery ("an error on the server ("unknown")"),
 * and its Accept lists application/json there, so a 5xx to client-go (told by its User-Agent) is text/plain.
 */
export function answerFormat(client: ClientHeaders, status: number): "json" | "text" {
  const ua = String(client["user-agent"] ?? "");
  if (status >= 500 && CLIENT_GO.test(ua)) return "text";
  const accept = String(client.accept ?? "").toLowerCase();
  const types = accept.split(",").map((t) => t.split(";")[0]!.trim()).filter(Boolean);
  if (types.length === 0 || types.some((t) => STATUS_TYPES.has(t) || t.endsWith("+json"))) return "json";
  return types.some((t) => t === "text/plain" || t === "text/*") ? "text" : "json";
}

/** A Warning header's text: printable ASCII, quotes and backslashes escaped (RFC 7234 quoted-string). */
function warningOf(message: string): string {
  return `299 - "${message.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/**
 * kubewire's own answer (the `kubewire: …` line) written for this client: a JSON Status as kube-apiserver
 * writes one, with the line also in a Warning header (client-go prints each Warning, even where it drops the
 * Status: a 401 on discovery), or the line as text/plain (which kubectl shows verbatim). `code` is the
 * error code, sent as X-Kubewire-Error.
 */
export function wordAnswer(client: ClientHeaders, status: number, message: string, code: string, reason = ""): { headers: Record<string, string>; text: string } {
  if (answerFormat(client, status) === "text") return { headers: { "content-type": TEXT_PLAIN, "x-kubewire-error": code }, text: message };
  const body = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, ...(reason ? { reason } : {}), details: { causes: [{ reason: code }] }, code: status };
  return { headers: { "content-type": "application/json", "x-kubewire-error": code, warning: warningOf(message) }, text: JSON.stringify(body) };
}

/**
 * Notes an upstream failure on the exchange (error, the chain seen, the handshake phases, when it
 * was known) and returns kubewire's 502 worded for this client: the `kubewire:` line that explains it.
 */
export function noteFailure(ex: Exchange, err: unknown, target: string, conn: ConnectionInfo | undefined, elapsedMs: number, client: ClientHeaders = {}): { text: string; headers: Record<string, string> } {
  const failure = classifyFailure(err, target);
  ex.error = failure.error;
  if (conn?.tls) ex.tls = conn.tls;
  else if (failure.chain.length) ex.tls = { protocol: null, cipher: null, alpn: null, resumed: false, chain: failure.chain };
  copyHandshake(ex, conn);
  ex.timing.ttfbMs = round(elapsedMs);
  return wordAnswer(client, 502, failureText(failure, target), failure.error.code);
}
