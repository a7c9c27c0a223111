// Writing answers the way kube-apiserver does: content negotiation (JSON, Table,
// protobuf-only rejected with 406), Status bodies, and the headers every response carries.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Status } from "./status.js";
import { notAcceptable } from "./status.js";

export interface Negotiated {
  /** the client asked for a meta.k8s.io Table */
  table: boolean;
  /** JSON (or Table) is acceptable; false means 406 */
  ok: boolean;
}

export const ACCEPTED = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

/** Reads Accept like the apiserver's negotiation for a resource request. */
export function negotiate(accept: string | undefined, allowTable: boolean): Negotiated {
  if (!accept || !accept.trim()) return { table: false, ok: true };
  let table = false;
  let json = false;
  for (const entry of accept.split(",")) {
    const [type, ...params] = entry.split(";").map((s) => s.trim());
    const p = Object.fromEntries(params.map((kv) => kv.split("=").map((x) => x.trim())));
    if (type === "application/json" && p.as === "Table" && p.g === "meta.k8s.io" && (p.v === "v1" || p.v === "v1beta1")) {
      if (allowTable) table = true;
      continue;
    }
    if (p.as) continue; // another conversion (PartialObjectMetadata, aggregated discovery): not ours
    if (type === "application/json" || type === "*/*" || type === "application/*") json = true;
  }
  if (table) return { table: true, ok: true };
  return { table: false, ok: json };
}

export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body) + "\n";
  res.writeHead(code, { "Content-Type": "application/json", ...headers, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendStatus(res: ServerResponse, s: Status, headers: Record<string, string> = {}): void {
  sendJson(res, s.code, s, headers);
}

/** http.Error in Go: text/plain with nosniff and a trailing newline. */
export function sendText(res: ServerResponse, code: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers, "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendNotAcceptable(res: ServerResponse): void {
  sendStatus(res, notAcceptable(ACCEPTED));
}

/** Reads a request body (bounded). */
export function readBody(req: IncomingMessage, limit = 3 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error("request entity too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Writes, awaiting 'drain' when the socket buffer is full (for streaming big bodies). */
export function writeChunk(res: ServerResponse, chunk: string): Promise<void> {
  if (res.destroyed) return Promise.reject(new Error("client went away"));
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      res.off("drain", done);
      res.off("close", gone);
      resolve();
    };
    const gone = (): void => {
      res.off("drain", done);
      reject(new Error("client went away"));
    };
    res.once("drain", done);
    res.once("close", gone);
  });
}
