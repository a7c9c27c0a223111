// Bounded capture of a body as it streams past, read as the client reads it: a gzip, deflate
// or br Content-Encoding is decoded incrementally (the bytes still go to the client unchanged), the
// first `limit` decoded bytes are kept, every byte is counted both decoded and as sent, and for
// streams the events are counted (watch events by type via watch-events.ts, lines otherwise).
//
// Decompression bombs: decoding runs one small slice of wire bytes at a time, so one call never
// holds more than about SLICE × 1032 decoded bytes; past the capture limit the decoded bytes are
// counted and dropped. Past DECODE_CEILING decoded bytes, decoding stops: the wire bytes are still
// counted, and `size` is then a lower bound (CapturedBody.sizeIsLowerBound).
import zlib from "node:zlib";
import type { CapturedBody, StreamInfo } from "../types.js";
import { watchFormatOf, WatchEventParser } from "./watch-events.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Wire bytes decoded per synchronous step: deflate expands at most ~1032×, so ≤ ~4 MiB at once. */
const SLICE = 4 * 1024;
/** Decoded bytes counted at most per body; beyond this decoding stops and size becomes a lower bound. */
export const DECODE_CEILING = 256 * 1024 * 1024;
/** Wire bytes kept for display while nothing decoded yet, shown raw if decoding fails at once. */
const RAW_FALLBACK = 64 * 1024;

export interface CaptureOptions {
  /** the body's Content-Encoding header: gzip, x-gzip, deflate and br are decoded */
  contentEncoding?: string | string[];
  /** the body's Content-Type: for watch streams, JSON lines or protobuf frames */
  contentType?: string | string[];
  /** count watch events (by type) rather than lines; needs countLines */
  watch?: boolean;
  /** decoded bytes counted at most (default DECODE_CEILING) */
  decodeCeiling?: number;
}

/**
 * A zlib stream driven synchronously, one step per call: the step zlib.gunzipSync runs on a whole
 * buffer (its handle's writeSync and write state), without the close that gunzipSync does after it.
 */
interface ZlibInternals {
  _handle: { writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void } | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  close(): void;
  on(event: "error", listener: () => void): void;
}

/** Output buffer per step: a full one means more output is waiting. */
const OUT_CHUNK = 64 * 1024;

class SyncDecoder {
  /** flush mode per step: zlib's Z_SYNC_FLUSH; brotli's "process" (its flush and finish would end the stream) */
  constructor(
    private readonly z: ZlibInternals,
    private readonly flush: number = zlib.constants.Z_SYNC_FLUSH,
  ) {
    z.on("error", () => {}); // a corrupt stream destroys the zlib object and emits later: seen below, synchronously
  }

  get closed(): boolean {
    return this.z.destroyed || this.z._handle === null;
  }

  /** Decodes all it can of input now; throws on a corrupt stream. */
  decode(input: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      const handle = this.z._handle;
      if (!handle || this.z.destroyed) throw new Error("the compressed stream is corrupt");
      const buf = Buffer.allocUnsafe(OUT_CHUNK);
      handle.writeSync(this.flush, input, inOff, inLen, buf, 0, OUT_CHUNK);
      if (this.z.destroyed) throw new Error("the compressed stream is corrupt");
      const [availOut, availIn] = this.z._writeState;
      if (availOut < OUT_CHUNK) out.push(buf.subarray(0, OUT_CHUNK - availOut));
      inOff += inLen - availIn;
      inLen = availIn;
      if (availOut !== 0) return out;
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.z.close();
    } catch {
      /* already closed */
    }
  }
}

function one(v: string | string[] | undefined): string {
  return (Array.isArray(v) ? v.join(",") : (v ?? "")).trim().toLowerCase();
}

/** The decoder for a Content-Encoding, or null when it is identity (or one we cannot decode). */
function decoderFor(encoding: string, first: Buffer): SyncDecoder | null {
  switch (encoding) {
    case "gzip":
    case "x-gzip":
      return new SyncDecoder(zlib.createGunzip() as unknown as ZlibInternals);
    case "deflate":
      // RFC 9110 deflate is zlib-wrapped; some servers send raw deflate: tell them apart by the zlib header
      return new SyncDecoder((first.length >= 2 && (first[0] & 0x0f) === 8 && (first[0] * 256 + first[1]) % 31 === 0 ? zlib.createInflate() : zlib.createInflateRaw()) as unknown as ZlibInternals);
    case "br":
      return new SyncDecoder(zlib.createBrotliDecompress() as unknown as ZlibInternals, zlib.constants.BROTLI_OPERATION_PROCESS);
  }
  return null;
}

export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private captured = 0;
  /** body bytes as the client reads them (decoded) */
  size = 0;
  /** body bytes as sent */
  wireSize = 0;
  private lines = 0;
  private readonly encoding: string;
  private decoder: SyncDecoder | null = null;
  /** decoding ended early: ceiling reached or corrupt stream */
  private stopped = false;
  private readonly rawHead: Buffer[] = [];
  private rawHeadLength = 0;
  private readonly watch: WatchEventParser | null;
  private readonly ceiling: number;

  constructor(
    private readonly limit: number,
    private readonly countLines = false,
    opts: CaptureOptions = {},
  ) {
    const encoding = one(opts.contentEncoding);
    this.encoding = encoding === "identity" ? "" : encoding;
    this.ceiling = opts.decodeCeiling ?? DECODE_CEILING;
    this.watch = countLines && opts.watch ? new WatchEventParser(watchFormatOf(one(opts.contentType))) : null;
  }

  /** Events seen: watch events (JSON lines or protobuf frames) for a watch, newlines for other streams. */
  get newlines(): number {
    return this.watch ? this.watch.events : this.lines;
  }

  get events(): number {
    return this.newlines;
  }

  push(chunk: Buffer): void {
    this.wireSize += chunk.length;
    if (!this.encoding) return this.take(chunk);
    if (this.stopped) return;
    if (!this.decoder) {
      this.decoder = decoderFor(this.encoding, chunk);
      if (!this.decoder) {
        // an encoding we cannot read: keep it as sent
        this.stopped = true;
        this.take(chunk);
        return;
      }
    }
    if (this.size === 0 && this.rawHeadLength < RAW_FALLBACK) {
      const part = chunk.subarray(0, RAW_FALLBACK - this.rawHeadLength);
      this.rawHead.push(part);
      this.rawHeadLength += part.length;
    }
    for (let at = 0; at < chunk.length && !this.stopped; at += SLICE) {
      let out: Buffer[];
      try {
        out = this.decoder.decode(chunk.subarray(at, at + SLICE));
      } catch {
        this.stop();
        return;
      }
      for (const piece of out) {
        const room = this.ceiling - this.size;
        this.take(piece.length > room ? piece.subarray(0, room) : piece);
        if (this.size >= this.ceiling) {
          this.stop();
          break;
        }
      }
    }
  }

  /** Stream-wide facts for StreamInfo: watch events by type and the last ERROR's Status. */
  watchSummary(): Pick<StreamInfo, "eventTypes" | "lastError" | "format"> {
    if (!this.watch) return {};
    this.watch.end();
    return this.watch.summary();
  }

  result(): CapturedBody | null {
    this.release();
    if (this.wireSize === 0) return null;
    if (this.encoding && this.stopped && this.size === 0) {
      // nothing could be decoded: show what came on the wire, as it came
      const raw = Buffer.concat(this.rawHead, this.rawHeadLength);
      return this.render(raw, this.wireSize > raw.length, this.wireSize);
    }
    const buf = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const body = this.render(buf, this.size > this.captured || (this.stopped && this.decoder !== null), this.size);
    if (this.encoding && this.decoder !== null) body.contentEncoding = this.encoding;
    if (this.stopped && this.decoder !== null) body.sizeIsLowerBound = true;
    return body;
  }

  /** Decoded bytes: counted, kept up to the limit, and read for events. */
  private take(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.watch) this.watch.push(chunk);
    else if (this.countLines) {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.lines++;
    }
    if (this.captured < this.limit) {
      const take = Math.min(chunk.length, this.limit - this.captured);
      this.chunks.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      this.captured += take;
    }
  }

  private stop(): void {
    this.stopped = true;
    this.release();
  }

  /** Frees the native decoder (its window and state) as soon as it is no longer needed. */
  private release(): void {
    this.decoder?.close();
    if (this.size > 0) this.rawHead.length = 0;
  }

  private render(buf: Buffer, truncated: boolean, size: number): CapturedBody {
    let data: string;
    try {
      data = utf8.decode(buf);
    } catch {
      // a truncated capture may cut a multi-byte character: retry without the last 3 bytes
      try {
        if (!truncated) throw new Error("binary");
        data = utf8.decode(buf.subarray(0, Math.max(0, buf.length - 3)));
      } catch {
        return { data: buf.toString("base64"), encoding: "base64", truncated, size };
      }
    }
    return { data, encoding: "utf8", truncated, size };
  }
}
