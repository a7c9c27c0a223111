// Reads watch events as they stream past, without holding the stream: JSON lines or Kubernetes
// protobuf frames (4-byte big-endian length, then a WatchEvent), counted by type, and the Status
// (code, reason, message) of the last ERROR event, which a watch ends with when it expires (410).
import type { StreamInfo, WatchError } from "../types.js";

export type WatchFormat = "json" | "protobuf";

/** Bytes kept of one event: enough for an ERROR's Status; the type sits at the start of the others. */
const KEEP = 64 * 1024;
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The framing of a watch response by its Content-Type. */
export function watchFormatOf(contentType: string | undefined): WatchFormat {
  return /application\/vnd\.kubernetes\.protobuf/i.test(contentType ?? "") ? "protobuf" : "json";
}

export class WatchEventParser {
  events = 0;
  readonly types: Record<string, number> = {};
  lastError: WatchError | undefined;
  /** the start of the current event (at most KEEP bytes) */
  private head: Buffer[] = [];
  private headLength = 0;
  /** bytes of the current event seen so far */
  private eventLength = 0;
  /** protobuf: the length prefix being read and the current frame's length (-1: reading a prefix) */
  private prefix = Buffer.alloc(4);
  private prefixHave = 0;
  private frameLeft = -1;

  constructor(readonly format: WatchFormat) {}

  push(chunk: Buffer): void {
    if (this.format === "json") this.pushLines(chunk);
    else this.pushFrames(chunk);
  }

  /** The stream ended: a last JSON event without its newline still counts. */
  end(): void {
    if (this.format === "json" && this.eventLength > 0) this.finishEvent();
  }

  summary(): Pick<StreamInfo, "eventTypes" | "lastError" | "format"> {
    return { eventTypes: { ...this.types }, format: this.format, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private keep(part: Buffer): void {
    this.eventLength += part.length;
    if (this.headLength < KEEP && part.length > 0) {
      const take = part.subarray(0, KEEP - this.headLength);
      this.head.push(take);
      this.headLength += take.length;
    }
  }

  private pushLines(chunk: Buffer): void {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      this.keep(chunk.subarray(from, nl));
      this.finishEvent();
      from = nl + 1;
    }
    if (from < chunk.length) this.keep(chunk.subarray(from));
  }

  private pushFrames(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frameLeft < 0) {
        const take = Math.min(4 - this.prefixHave, chunk.length - pos);
        chunk.copy(this.prefix, this.prefixHave, pos, pos + take);
        this.prefixHave += take;
        pos += take;
        if (this.prefixHave < 4) return;
        this.prefixHave = 0;
        this.frameLeft = this.prefix.readUInt32BE(0);
        if (this.frameLeft === 0) {
          this.finishEvent();
          this.frameLeft = -1;
        }
        continue;
      }
      const take = Math.min(this.frameLeft, chunk.length - pos);
      this.keep(chunk.subarray(pos, pos + take));
      pos += take;
      this.frameLeft -= take;
      if (this.frameLeft === 0) {
        this.finishEvent();
        this.frameLeft = -1;
      }
    }
  }

  private finishEvent(): void {
    const pieces = this.head;
    const headLength = this.headLength;
    const complete = this.eventLength <= KEEP;
    this.head = [];
    this.headLength = 0;
    this.eventLength = 0;
    // the type sits at the start: read it from a short prefix, and join the whole head only for an ERROR
    const start = join(pieces, Math.min(headLength, TYPE_PREFIX));
    if (this.format === "json" && start.toString("latin1").trim() === "" && headLength <= TYPE_PREFIX) return; // blank line
    this.events++;
    const whole = () => join(pieces, headLength);
    const event = this.format === "json" ? jsonEvent(start, whole, complete) : protobufEvent(start, whole);
    this.types[event.type] = (this.types[event.type] ?? 0) + 1;
    if (event.type === "ERROR" && event.error) this.lastError = event.error;
  }
}

/** Bytes read to find an event's type. */
const TYPE_PREFIX = 256;

/** The first n bytes of the pieces, as one buffer. */
function join(pieces: Buffer[], n: number): Buffer {
  if (pieces.length === 1 || (pieces.length > 0 && pieces[0].length >= n)) return pieces[0].subarray(0, n);
  return Buffer.concat(pieces, n);
}

interface ParsedEvent {
  type: string;
  error?: WatchError;
}

function statusOf(o: unknown): WatchError | undefined {
  if (!o || typeof o !== "object") return undefined;
  const s = o as { code?: unknown; reason?: unknown; message?: unknown };
  return { code: typeof s.code === "number" ? s.code : 0, reason: typeof s.reason === "string" ? s.reason : "", message: typeof s.message === "string" ? s.message : "" };
}

function jsonEvent(start: Buffer, whole: () => Buffer, complete: boolean): ParsedEvent {
  // kube-apiserver writes {"type":...,"object":...}: the type is read from the start without parsing the object
  const m = /^\s*\{\s*"type"\s*:\s*"([^"\\]*)"/.exec(start.toString("utf8"));
  const type = m?.[1];
  if (type !== undefined && type !== "ERROR") return { type };
  if (!complete) return { type: type ?? "unknown" };
  try {
    const v = JSON.parse(whole().toString("utf8")) as { type?: unknown; object?: unknown };
    const t = typeof v.type === "string" ? v.type : "unknown";
    return t === "ERROR" ? { type: t, error: statusOf(v.object) } : { type: t };
  } catch {
    return { type: type ?? "unknown" };
  }
}

// ---- just enough protobuf: WatchEvent{type(1), object(2){raw(1)}}, runtime.Unknown{raw(2)}, Status{message(3), reason(4), code(6)}

type Field = { no: number; value: Buffer | number };

/** The fields of a message, stopping quietly where the bytes run out (a frame cut at KEEP). */
function fieldsOf(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): number | undefined => {
    let result = 0;
    for (let shift = 0; pos < buf.length && shift < 64; shift += 7) {
      const b = buf[pos++];
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const key = varint();
    if (key === undefined) break;
    const wire = key & 7;
    const no = Math.floor(key / 8);
    if (wire === 0) {
      const v = varint();
      if (v === undefined) break;
      out.push({ no, value: v });
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || pos + len > buf.length) break;
      out.push({ no, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else break;
  }
  return out;
}

function field(fields: Field[], no: number): Buffer | number | undefined {
  let found: Buffer | number | undefined;
  for (const f of fields) if (f.no === no) found = f.value;
  return found;
}

function text(v: Buffer | number | undefined): string {
  return Buffer.isBuffer(v) ? v.toString("utf8") : "";
}

/** A Status from the raw bytes of a watch event's object: the k8s envelope, bare protobuf, or JSON. */
export function protobufStatus(raw: Buffer): WatchError | undefined {
  let body = raw;
  if (raw.length >= 4 && raw.subarray(0, 4).equals(MAGIC)) {
    const inner = field(fieldsOf(raw.subarray(4)), 2);
    if (!Buffer.isBuffer(inner)) return undefined;
    body = inner;
  } else if (raw.length > 0 && raw[0] === 0x7b) {
    try {
      return statusOf(JSON.parse(raw.toString("utf8")));
    } catch {
      return undefined;
    }
  }
  const s = fieldsOf(body);
  const code = field(s, 6);
  // int32 on the wire: a negative value arrives as a 64-bit two's complement varint
  return { code: typeof code === "number" ? (code >= 2 ** 63 ? code - 2 ** 64 : code) : 0, reason: text(field(s, 4)), message: text(field(s, 3)) };
}

function protobufEvent(start: Buffer, whole: () => Buffer): ParsedEvent {
  // WatchEvent writes its type (field 1) first
  const first = fieldsOf(start).find((f) => f.no === 1);
  const type = text(first?.value) || "unknown";
  if (type !== "ERROR") return { type };
  const object = field(fieldsOf(whole()), 2);
  const raw = Buffer.isBuffer(object) ? field(fieldsOf(object), 1) : undefined;
  return { type, error: Buffer.isBuffer(raw) ? protobufStatus(raw) : undefined };
}
