// Kubernetes protobuf on the wire, without schemas: the "k8s\0" envelope around runtime.Unknown,
// length-framed watch streams, a field parser/rewriter, and a `protoc --decode_raw`-style tree.
// The redactor edits Secrets with it; show and the HAR export print bodies with it.

import type { CapturedBody } from "../types.js";

export const K8S_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** One field as it sits in its message: `start`..`end` is the whole field (key included) in the parsed buffer. */
export interface ProtoField {
  no: number;
  /** 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
  wire: number;
  /** the varint or fixed value, or the bytes of a length-delimited field */
  value: bigint | Buffer;
  start: number;
  end: number;
}

export interface Envelope {
  apiVersion: string;
  kind: string;
  raw: Buffer;
  contentEncoding: string;
  contentType: string;
}

function varint(buf: Buffer, pos: number): [bigint, number] | null {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) return null;
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  return null;
}

/** The fields of a message, or null when the bytes are not exactly one well-formed message. */
export function parseFields(buf: Buffer): ProtoField[] | null {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const key = varint(buf, pos);
    if (!key) return null;
    pos = key[1];
    const no = Number(key[0] >> 3n);
    const wire = Number(key[0] & 7n);
    if (no < 1 || no > 536_870_911) return null;
    let value: bigint | Buffer;
    if (wire === 0) {
      const v = varint(buf, pos);
      if (!v) return null;
      [value, pos] = v;
    } else if (wire === 2) {
      const len = varint(buf, pos);
      if (!len || len[1] + Number(len[0]) > buf.length) return null;
      value = buf.subarray(len[1], len[1] + Number(len[0]));
      pos = len[1] + Number(len[0]);
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > buf.length) return null;
      value = wire === 1 ? buf.readBigUInt64LE(pos) : BigInt(buf.readUInt32LE(pos));
      pos += n;
    } else return null; // groups (3, 4) are not used by Kubernetes
    out.push({ no, wire, value, start, end: pos });
  }
  return out;
}

function encodeVarint(n: bigint | number): Buffer {
  let v = BigInt(n);
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}

/** A length-delimited field, key included. */
export function bytesField(no: number, value: Buffer | string): Buffer {
  const data = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return Buffer.concat([encodeVarint((no << 3) | 2), encodeVarint(data.length), data]);
}

/**
 * The message with some fields replaced: `edit` returns new bytes for the whole field (key included),
 * null to drop it, or undefined to keep it byte for byte.
 */
export function rewriteFields(buf: Buffer, fields: ProtoField[], edit: (f: ProtoField) => Buffer | null | undefined): Buffer {
  const parts: Buffer[] = [];
  let changed = false;
  for (const f of fields) {
    const next = edit(f);
    if (next === undefined) parts.push(buf.subarray(f.start, f.end));
    else {
      changed = true;
      if (next) parts.push(next);
    }
  }
  return changed ? Buffer.concat(parts) : buf;
}

export function isEnvelope(buf: Buffer): boolean {
  return buf.length >= 4 && buf[0] === 0x6b && buf[1] === 0x38 && buf[2] === 0x73 && buf[3] === 0x00;
}

const text = (f: ProtoField | undefined): string => (f && Buffer.isBuffer(f.value) ? f.value.toString("utf8") : "");

/** The runtime.Unknown inside a "k8s\0" body, or null when it is not one. */
export function decodeEnvelope(buf: Buffer): Envelope | null {
  if (!isEnvelope(buf)) return null;
  const fields = parseFields(buf.subarray(4));
  if (!fields) return null;
  const get = (n: number) => fields.filter((f) => f.no === n && f.wire === 2).pop();
  const typeMeta = get(1);
  const tm = typeMeta ? parseFields(typeMeta.value as Buffer) : [];
  if (!tm) return null;
  const tmGet = (n: number) => tm.filter((f) => f.no === n && f.wire === 2).pop();
  const raw = get(2);
  return { apiVersion: text(tmGet(1)), kind: text(tmGet(2)), raw: raw ? (raw.value as Buffer) : Buffer.alloc(0), contentEncoding: text(get(3)), contentType: text(get(4)) };
}

/** The same envelope with another `raw`; every other field kept as it was. */
export function replaceEnvelopeRaw(buf: Buffer, raw: Buffer): Buffer {
  const inner = buf.subarray(4);
  const fields = parseFields(inner);
  if (!fields) throw new Error("not a Kubernetes protobuf envelope");
  let seen = false;
  const out = rewriteFields(inner, fields, (f) => {
    if (f.no !== 2) return undefined;
    if (seen) return null;
    seen = true;
    return bytesField(2, raw);
  });
  return Buffer.concat([K8S_MAGIC, seen ? out : Buffer.concat([out, bytesField(2, raw)])]);
}

/** Watch stream frames (4-byte big-endian length, then the frame); `rest` is an incomplete last frame. */
export function splitFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    if (pos + 4 + len > buf.length) break;
    frames.push(buf.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return { frames, rest: buf.subarray(pos) };
}

export function joinFrames(frames: Buffer[]): Buffer {
  return Buffer.concat(
    frames.flatMap((f) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(f.length);
      return [len, f];
    }),
  );
}

/** A length-framed stream whose every frame is a message (how protobuf watches arrive). */
export function looksFramed(buf: Buffer): boolean {
  if (buf.length < 5 || isEnvelope(buf)) return false;
  const { frames } = splitFrames(buf);
  return frames.length > 0 && frames.every((f) => parseFields(f) !== null);
}

// ---- the readable tree

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Text a person would call text: valid UTF-8 without control characters other than tab and newline. */
function asText(b: Buffer): string | null {
  if (b.length === 0) return "";
  let s: string;
  try {
    s = utf8.decode(b);
  } catch {
    return null;
  }
  return /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(s) ? null : s;
}

function quote(s: string): string {
  return JSON.stringify(s);
}

function escapeBytes(b: Buffer): string {
  let out = "";
  for (const c of b) out += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : `\\${c.toString(8).padStart(3, "0")}`;
  return `"${out}"`;
}

function renderFields(fields: ProtoField[], indent: string, out: string[], depth: number): void {
  for (const f of fields) {
    if (!Buffer.isBuffer(f.value)) {
      out.push(`${indent}${f.no}: ${f.wire === 0 ? f.value.toString() : `0x${f.value.toString(16).padStart(f.wire === 1 ? 16 : 8, "0")}`}`);
      continue;
    }
    renderBytes(f.no, f.value, indent, out, depth);
  }
}

function renderBytes(label: number | string, b: Buffer, indent: string, out: string[], depth: number): void {
  // Text first, unless it starts as most messages do (field 1, length-delimited: "\n")
  const s = asText(b);
  if (s !== null && !/^[\t\n\r]/.test(s)) {
    out.push(`${indent}${label}: ${quote(s)}`);
    return;
  }
  if (depth < 64) {
    const env = decodeEnvelope(b);
    if (env) {
      out.push(`${indent}${label} {`);
      renderEnvelope(env, `${indent}  `, out, depth + 1);
      out.push(`${indent}}`);
      return;
    }
    const nested = parseFields(b);
    if (nested && nested.length > 0) {
      out.push(`${indent}${label} {`);
      renderFields(nested, `${indent}  `, out, depth + 1);
      out.push(`${indent}}`);
      return;
    }
  }
  out.push(`${indent}${label}: ${s !== null ? quote(s) : escapeBytes(b)}`);
}

function renderEnvelope(env: Envelope, indent: string, out: string[], depth: number): void {
  out.push(`${indent}# Kubernetes protobuf: apiVersion ${quote(env.apiVersion)} kind ${quote(env.kind)}`);
  if (env.contentEncoding) out.push(`${indent}# contentEncoding ${quote(env.contentEncoding)}`);
  if (env.contentType) out.push(`${indent}# contentType ${quote(env.contentType)}`);
  const fields = parseFields(env.raw);
  if (fields) renderFields(fields, indent, out, depth);
  else out.push(`${indent}raw: ${escapeBytes(env.raw)}`);
}

/**
 * Any Kubernetes protobuf body as a field tree, as `protoc --decode_raw` prints it: field numbers,
 * strings quoted, nested messages decoded when they parse, other bytes escaped; envelopes and
 * watch frames named. Null when the bytes are none of these.
 */
export function renderProtobuf(buf: Buffer): string | null {
  const out: string[] = [];
  const env = decodeEnvelope(buf);
  if (env) renderEnvelope(env, "", out, 0);
  else if (looksFramed(buf)) {
    const { frames, rest } = splitFrames(buf);
    frames.forEach((frame, i) => {
      out.push(`# frame ${i + 1} (${frame.length} bytes)`);
      renderFields(parseFields(frame)!, "", out, 0);
    });
    if (rest.length) out.push(`# incomplete frame: ${rest.length} bytes`);
  } else return null;
  return out.join("\n");
}

/**
 * A captured body as its protobuf field tree, for people (show, the HAR export); null when it
 * is not Kubernetes protobuf. A body cut at capture shows the fields that arrived whole.
 */
export function protobufText(body: CapturedBody | null, contentType: string | undefined): string | null {
  if (!body || body.data === "") return null;
  if (body.encoding === "utf8" && !isProtobufType(contentType) && !body.data.startsWith("k8s\u0000")) return null;
  const bytes = Buffer.from(body.data, body.encoding === "base64" ? "base64" : "utf8");
  if (!isEnvelope(bytes) && !(isProtobufType(contentType) && looksFramed(bytes))) return null;
  return renderProtobuf(bytes) ?? `# a cut Kubernetes protobuf body: ${bytes.length} bytes captured`;
}

/** True when a content type names Kubernetes protobuf. */
export function isProtobufType(contentType: string | undefined): boolean {
  return !!contentType && /application\/vnd\.kubernetes\.protobuf/i.test(contentType);
}
