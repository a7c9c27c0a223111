// pods/exec and pods/attach: a hand-written RFC 6455 WebSocket (channel.k8s.io v4/v5
// subprotocols) running a tiny fake shell that reads stdin, a SPDY/3.1 "upgrade" that only echoes
// bytes, and the refusals kube-apiserver writes before any upgrade (a container the pod lacks).
import { createHash } from "node:crypto";
import { ServerResponse, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import * as st from "./status.js";

/** What the simulated API server received on its latest upgrades (path and raw headers, newest last), for tests. */
export const upgradesReceived: Array<{ url: string; rawHeaders: string[] }> = [];

function noteReceived(req: IncomingMessage): void {
  upgradesReceived.push({ url: req.url ?? "", rawHeaders: [...req.rawHeaders] });
  if (upgradesReceived.length > 50) upgradesReceived.shift();
}

/** The paths on which kube-apiserver upgrades a connection: pods' exec, attach and portforward. */
export function upgradesHere(req: IncomingMessage): boolean {
  const path = new URL(req.url ?? "/", "https://demo.invalid").pathname;
  return /^\/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+\/(exec|attach|portforward)\/?$/.test(path);
}

/**
 * Anywhere else Go's server ignores `Connection: Upgrade` and serves the request as it would
 * any other: a GET of a Secret with those headers gets the Secret. (A body, which Node leaves
 * on the socket for upgrades, is not read: the demo's ordinary handlers get none.)
 */
export function answerWithoutUpgrade(req: IncomingMessage, socket: Duplex, handle: (req: IncomingMessage, res: ServerResponse) => void): void {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once("finish", () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  handle(req, res);
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  let header: Buffer;
  if (len < 126) header = Buffer.from([0x80 | opcode, len]);
  else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Splits masked client frames off the front of a buffer; returns the frames and the rest. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let pos = 0;
  while (buf.length - pos >= 2) {
    const b1 = buf[pos + 1];
    let len = b1 & 0x7f;
    let off = pos + 2;
    if (len === 126) {
      if (buf.length < off + 2) break;
      len = buf.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      if (buf.length < off + 8) break;
      len = Number(buf.readBigUInt64BE(off));
      off += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = masked ? buf.subarray(off, off + 4) : undefined;
    if (masked) off += 4;
    if (buf.length < off + len) break;
    const payload = Buffer.from(buf.subarray(off, off + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
    frames.push({ opcode: buf[pos] & 0x0f, payload });
    pos = off + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

/** The fake shell: what a command prints on stdout. */
export function fakeShell(command: string[]): string {
  if (command[0] === "echo") return command.slice(1).join(" ") + "\n";
  return `demo: ${command.join(" ")}\n`;
}

function rawResponse(socket: Duplex, code: number, reason: string, headers: Record<string, string>): void {
  const lines = [`HTTP/1.1 ${code} ${reason}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""];
  socket.write(lines.join("\r\n"));
}

/** Chooses the subprotocol; undefined when the client offers none we speak. */
export function chooseProtocol(req: IncomingMessage): string | undefined {
  const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
  return PROTOCOLS.find((p) => offered.includes(p));
}

/** v5.channel.k8s.io: a message on this channel closes the stream whose number it carries. */
const CLOSE_CHANNEL = 255;

/** Completes the WebSocket handshake and runs the command (exec) or prints a banner (attach). With
 * stdin, `sh` runs each line it reads and `cat` copies it, both until stdin closes (v5 close signal,
 * or the client's close frame); other commands ignore stdin and end at once, as a real process
 * would. The end: stdout, the Status on channel 3, a close frame, and the connection closed once the
 * client answers it (RFC 6455's closing handshake). */
export function serveWebSocketExec(req: IncomingMessage, socket: Duplex, protocol: string, headers: Record<string, string>, command: string[], attach: boolean): void {
  noteReceived(req);
  const key = String(req.headers["sec-websocket-key"] ?? "");
  const accept = createHash("sha1").update(key + GUID).digest("base64");
  rawResponse(socket, 101, "Switching Protocols", { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Accept": accept, "Sec-WebSocket-Protocol": protocol, ...headers });
  const send = (channel: number, data: string): void => {
    if (!socket.destroyed && socket.writable) socket.write(frame(0x2, Buffer.concat([Buffer.from([channel]), Buffer.from(data)])));
  };
  const query = new URL(req.url ?? "/", "https://demo.invalid").searchParams;
  const reading = !attach && query.get("stdin") === "true" && (command[0] === "sh" || command[0] === "cat") && command.length === 1;
  let pending: Buffer = Buffer.alloc(0);
  let input = "";
  let closed = false;
  let clientClosed = false;
  let shut: (() => void) | null = null;
  const close = (): void => {
    if (closed) return;
    closed = true;
    if (socket.destroyed) return;
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    socket.write(frame(0x8, code));
    // RFC 6455's closing handshake: the connection goes once the client answered the close frame (or
    // after 2 s), so its late frames never meet a closed socket that would reset what it had yet to read
    let done = false;
    shut = () => {
      if (done) return;
      done = true;
      socket.end();
      socket.once("finish", () => socket.destroy());
    };
    if (clientClosed) return shut();
    setTimeout(shut, 2000).unref();
    socket.once("end", shut);
  };
  const finish = (): void => {
    if (closed) return;
    if (reading && input !== "") stdin(Buffer.from("\n"));
    send(3, JSON.stringify({ metadata: {}, status: "Success" }));
    // Give the client a moment to read stdout before the close frame; the close ends the stream.
    setImmediate(close);
  };
  const stdin = (data: Buffer): void => {
    if (command[0] === "cat") return send(1, data.toString("utf8"));
    input += data.toString("utf8");
    let nl: number;
    while ((nl = input.indexOf("\n")) !== -1) {
      const line = input.slice(0, nl).trim();
      input = input.slice(nl + 1);
      if (line) send(1, fakeShell(line.split(/\s+/)));
    }
  };
  socket.on("data", (chunk: Buffer) => {
    const parsed = parseFrames(Buffer.concat([pending, chunk]));
    pending = parsed.rest;
    for (const f of parsed.frames) {
      if (f.opcode === 0x8) {
        clientClosed = true;
        if (shut) shut();
        else finish();
      }
      else if (f.opcode === 0x9 && !socket.destroyed) socket.write(frame(0xa, f.payload));
      else if (reading && f.opcode === 0x2 && f.payload[0] === 0) stdin(f.payload.subarray(1));
      else if (reading && f.opcode === 0x2 && f.payload[0] === CLOSE_CHANNEL && f.payload[1] === 0) finish();
    }
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => (closed = true));
  if (attach) send(1, "demo: attached\n");
  else if (!reading) send(1, fakeShell(command));
  if (!reading) finish();
}

/** Answers an SPDY/3.1 upgrade and echoes every byte back (a fixture for proxy tests, not SPDY). */
export function serveSpdyEcho(socket: Duplex, head: Buffer, headers: Record<string, string>): void {
  rawResponse(socket, 101, "Switching Protocols", { Connection: "Upgrade", Upgrade: "SPDY/3.1", "X-Stream-Protocol-Version": "v4.channel.k8s.io", ...headers });
  if (head.length) socket.write(head);
  socket.on("data", (d: Buffer) => socket.write(d));
  socket.on("end", () => socket.end());
  socket.on("error", () => socket.destroy());
}

/** A plain HTTP answer on an upgrade socket (errors before the handshake). */
export function rejectUpgrade(socket: Duplex, code: number, reason: string, body: string, headers: Record<string, string>): void {
  rawResponse(socket, code, reason, { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)), Connection: "close", ...headers });
  socket.end(body);
}

/** Writes a Status the way kube-apiserver's Go server streams it: `Transfer-Encoding: chunked`. */
function refuseChunked(socket: Duplex, status: st.Status, headers: Record<string, string>): void {
  const body = Buffer.from(JSON.stringify(status));
  const reason = status.code === 400 ? "Bad Request" : status.code === 404 ? "Not Found" : "Error";
  rawResponse(socket, status.code, reason, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", Connection: "close", ...headers });
  socket.end(Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]));
}

/**
 * kube-apiserver checks the container before any upgrade (ExecLocation / AttachLocation in
 * pkg/registry/core/pod/strategy.go) and refuses a missing one with a 400 BadRequest Status:
 * `container NAME is not valid for pod POD`, or asks for a name when the pod has several.
 * Returns true when it refused.
 */
export function refuseMissingContainer(socket: Duplex, pod: Record<string, unknown>, podName: string, url: URL, headers: Record<string, string>): boolean {
  const names = ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map((c) => c.name);
  const container = url.searchParams.get("container") ?? "";
  let message = "";
  if (container === "" && names.length === 0) message = `a container name must be specified for pod ${podName}`;
  else if (container === "" && names.length > 1) message = `a container name must be specified for pod ${podName}, choose one of: [${names.join(" ")}]`;
  else if (container !== "" && !names.includes(container)) message = `container ${container} is not valid for pod ${podName}`;
  if (!message) return false;
  refuseChunked(socket, st.badRequest(message), headers);
  return true;
}
