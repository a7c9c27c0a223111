// Writing answers the way kube-apiserver does: content negotiation (JSON, Table, protobuf for the
// kinds proto.ts encodes), Status bodies, gzip over 128 KiB for clients that accept it (with Vary),
// and the headers every response carries.
import type { IncomingMessage, ServerResponse } from "node:http";
import zlib from "node:zlib";
import { canEncode, encodeProtobuf, PROTOBUF } from "./proto.js";
import type { Status } from "./status.js";
import { notAcceptable } from "./status.js";

export interface Negotiated {
  /** the client asked for a meta.k8s.io Table */
  table: boolean;
  /** JSON (or Table) is acceptable; false means 406 */
  ok: boolean;
  /** the client prefers protobuf (its first acceptable type); kinds proto.ts cannot encode go as JSON */
  protobuf: boolean;
  /** plain JSON is acceptable */
  json: boolean;
}

/** kube-apiserver gzips a response whose first write is larger than this (responsewriters defaultGzipThresholdBytes). */
export const GZIP_THRESHOLD = 128 * 1024;

export const ACCEPTED = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

/** Reads Accept like the apiserver's negotiation for a resource request. */
export function negotiate(accept: string | undefined, allowTable: boolean): Negotiated {
  if (!accept || !accept.trim()) return { table: false, ok: true, protobuf: false, json: true };
  let table = false;
  let json = false;
  let first: "json" | "protobuf" | "" = "";
  for (const entry of accept.split(",")) {
    const [type, ...params] = entry.split(";").map((s) => s.trim());
    const p = Object.fromEntries(params.map((kv) => kv.split("=").map((x) => x.trim())));
    if (type === "application/json" && p.as === "Table" && p.g === "meta.k8s.io" && (p.v === "v1" || p.v === "v1beta1")) {
      if (allowTable) table = true;
      continue;
    }
    if (p.as) continue; // another conversion (PartialObjectMetadata, aggregated discovery): not ours
    if (p.q === "0") continue;
    if (type === PROTOBUF) first ||= "protobuf";
    if (type === "application/json" || type === "*/*" || type === "application/*") {
      json = true;
      first ||= "json";
    }
  }
  if (table) return { table: true, ok: true, protobuf: false, json };
  return { table: false, ok: json || first === "protobuf", protobuf: first === "protobuf", json };
}

/** The request a response answers (Node keeps it on the response). */
function requestOf(res: ServerResponse): IncomingMessage | undefined {
  return (res as ServerResponse & { req?: IncomingMessage }).req;
}

/** Accept-Encoding names gzip (with no q=0), as kube-apiserver's negotiation reads it. */
export function acceptsGzip(req: IncomingMessage | undefined): boolean {
  const v = req?.headers["accept-encoding"];
  if (!v) return false;
  return String(v).split(",").some((part) => {
    const [name, ...params] = part.split(";").map((x) => x.trim().toLowerCase());
    return name === "gzip" && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}

/** Writes a whole body, gzipped (level 1, as kube-apiserver) when over GZIP_THRESHOLD and the client accepts gzip. */
export function sendBody(res: ServerResponse, code: number, body: Buffer, headers: Record<string, string | string[]>): void {
  if (res.headersSent || res.destroyed) return;
  if (body.length > GZIP_THRESHOLD && acceptsGzip(requestOf(res))) {
    res.writeHead(code, { ...headers, "Content-Encoding": "gzip", Vary: "Accept-Encoding" });
    res.end(zlib.gzipSync(body, { level: 1 }));
    return;
  }
  res.writeHead(code, { ...headers, "Content-Length": body.length });
  res.end(body);
}

/** An object as the client asked for it: protobuf when it prefers that and proto.ts encodes the kind, JSON otherwise. */
export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const kind = body && typeof body === "object" ? (body as { kind?: unknown }).kind : undefined;
  const n = negotiate(requestOf(res)?.headers.accept, false);
  if (n.protobuf && canEncode(kind)) {
    return sendBody(res, code, encodeProtobuf(body as Record<string, unknown>), { "Content-Type": PROTOBUF, ...headers });
  }
  if (n.protobuf && !n.json) return sendNotAcceptable(res); // protobuf only, for a kind we cannot encode
  sendBody(res, code, Buffer.from(JSON.stringify(body) + "\n"), { "Content-Type": "application/json", ...headers });
}

export function sendStatus(res: ServerResponse, s: Status, headers: Record<string, string> = {}): void {
  sendJson(res, s.code, s, headers);
}

/** http.Error in Go: text/plain with nosniff and a trailing newline. */
export function sendText(res: ServerResponse, code: number, text: string, headers: Record<string, string> = {}): void {
  sendBody(res, code, Buffer.from(text), { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers });
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

/**
 * A streamed body written as kube-apiserver's deferredResponseWriter does: writes are held until
 * they pass GZIP_THRESHOLD, then the head goes out, gzipped when the client accepts it; a body
 * that ends smaller goes out whole with its Content-Length.
 */
export class ResponseStream {
  private held: Buffer[] = [];
  private heldLength = 0;
  private gzip: zlib.Gzip | null = null;
  private committed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly code: number,
    private readonly headers: Record<string, string>,
  ) {}

  async write(chunk: string | Buffer): Promise<void> {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!this.committed) {
      this.held.push(buf);
      this.heldLength += buf.length;
      if (this.heldLength <= GZIP_THRESHOLD) return;
      this.commit();
      const first = Buffer.concat(this.held);
      this.held = [];
      return this.out(first);
    }
    return this.out(buf);
  }

  async end(): Promise<void> {
    if (!this.committed) {
      this.committed = true;
      sendBody(this.res, this.code, Buffer.concat(this.held), this.headers);
      return;
    }
    if (this.gzip) {
      const gz = this.gzip;
      await new Promise<void>((resolve) => {
        gz.once("end", resolve); // the readable side has handed over its last compressed bytes
        gz.end();
      });
    }
    this.res.end();
  }

  private commit(): void {
    this.committed = true;
    if (acceptsGzip(requestOf(this.res))) {
      this.res.writeHead(this.code, { ...this.headers, "Content-Encoding": "gzip", Vary: "Accept-Encoding", "Transfer-Encoding": "chunked" });
      this.gzip = zlib.createGzip({ level: 1 });
      this.gzip.on("data", (c: Buffer) => this.res.write(c));
    } else {
      this.res.writeHead(this.code, { ...this.headers, "Transfer-Encoding": "chunked" });
    }
  }

  private out(buf: Buffer): Promise<void> {
    if (this.res.destroyed) return Promise.reject(new Error("client went away"));
    if (this.gzip) {
      const gz = this.gzip;
      return new Promise((resolve, reject) => {
        gz.write(buf, (err) => (err ? reject(err) : this.res.writableNeedDrain ? waitDrain(this.res).then(resolve, reject) : resolve()));
      });
    }
    return this.res.write(buf) ? Promise.resolve() : waitDrain(this.res);
  }
}

function waitDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
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
