// Redaction of Kubernetes protobuf bodies, in place and schema-light: Secrets (data, stringData,
// unknown fields, the last-applied annotation), lists and PartialObjectMetadata of them, token
// kinds, watch frames, and envelopes nested in other kinds. Null means "cannot be kept".
import { bytesField, decodeEnvelope, isEnvelope, joinFrames, parseFields, replaceEnvelopeRaw, rewriteFields, splitFrames, type ProtoField } from "./protobuf.js";
import { LAST_APPLIED, REDACTED, SECRET_IN_TEXT, sensitive, type Scope } from "./redact-policy.js";

const SENSITIVE_PATH_KINDS = new Set(["Secret", "SecretList", "PartialObjectMetadata", "PartialObjectMetadataList", "Status", "WatchEvent", "TokenRequest", "TokenReview", "DeleteOptions"]);

/** An envelope or a stream of watch frames, redacted; null when it cannot be read well enough to keep. */
export function redactProtobuf(bytes: Buffer, scope: Scope, depth = 0): Buffer | null {
  if (depth > 16) return null;
  if (isEnvelope(bytes)) {
    const env = decodeEnvelope(bytes);
    if (!env) return null;
    if (env.contentEncoding && (sensitive(scope) || env.raw.includes("Secret"))) return null;
    const raw = redactKind(env.kind, env.raw, scope, depth);
    if (raw === null) return null;
    return raw === env.raw ? bytes : replaceEnvelopeRaw(bytes, raw);
  }
  const { frames, rest } = splitFrames(bytes);
  if (frames.length === 0) return null;
  let changed = rest.length > 0 && sensitive(scope); // a cut last frame is not kept on a sensitive path
  const out: Buffer[] = [];
  for (const frame of frames) {
    const next = redactKind("WatchEvent", frame, scope, depth);
    if (next === null) return null;
    if (next !== frame) changed = true;
    out.push(next);
  }
  if (!changed) return bytes;
  const joined = joinFrames(out);
  return rest.length > 0 && !sensitive(scope) ? Buffer.concat([joined, rest]) : joined;
}

const REDACTED_BYTES = Buffer.from(REDACTED);

/** Edits the length-delimited fields `no` of a message with `fn`; null when the message does not parse. */
function editField(msg: Buffer, fn: (f: ProtoField) => Buffer | null | undefined): Buffer | null {
  const fields = parseFields(msg);
  if (!fields) return null;
  let failed = false;
  const out = rewriteFields(msg, fields, (f) => {
    if (failed) return undefined;
    const r = fn(f);
    if (r === null) failed = true;
    return r ?? undefined;
  });
  return failed ? null : out;
}

/** `edit` applied to the bytes of field `no`, re-wrapped; other fields untouched. */
function inField(no: number, edit: (b: Buffer) => Buffer | null): (f: ProtoField) => Buffer | null | undefined {
  return (f) => {
    if (f.no !== no || !Buffer.isBuffer(f.value)) return undefined;
    const next = edit(f.value);
    if (next === null) return null;
    return next === f.value ? undefined : bytesField(no, next);
  };
}

function redactKind(kind: string, raw: Buffer, scope: Scope, depth: number): Buffer | null {
  const plainSecret = (b: Buffer) => protoSecret(b, scope);
  switch (kind) {
    case "Secret":
      return protoSecret(raw, scope);
    case "SecretList":
      return editField(raw, inField(2, plainSecret));
    case "PartialObjectMetadata":
      return editField(raw, inField(1, (m) => protoMeta(m, scope.secretPath, scope)));
    case "PartialObjectMetadataList":
      return editField(raw, inField(2, (item) => editField(item, inField(1, (m) => protoMeta(m, scope.secretPath, scope)))));
    case "TokenRequest":
      return editField(raw, inField(3, (status) => editField(status, redactBytesField(1, scope))));
    case "TokenReview":
      return editField(raw, inField(2, (spec) => editField(spec, redactBytesField(1, scope))));
    case "WatchEvent":
      // WatchEvent{type=1, object=2 RawExtension{raw=1}}
      return editField(raw, inField(2, (ext) => editField(ext, inField(1, (obj) => redactProtobuf(obj, scope, depth + 1)))));
  }
  if (sensitive(scope) && !SENSITIVE_PATH_KINDS.has(kind)) return null;
  if (!raw.includes("k8s\u0000")) return raw;
  return nestedEnvelopes(raw, scope, depth);
}

/** Any other kind: envelopes nested in it (a v1 List's items) are redacted in place. */
function nestedEnvelopes(msg: Buffer, scope: Scope, depth: number): Buffer | null {
  if (depth > 16) return msg;
  const fields = parseFields(msg);
  if (!fields) return msg;
  let failed = false;
  const out = rewriteFields(msg, fields, (f) => {
    if (failed || !Buffer.isBuffer(f.value) || !f.value.includes("k8s\u0000")) return undefined;
    const next = isEnvelope(f.value) ? redactProtobuf(f.value, scope, depth + 1) : nestedEnvelopes(f.value, scope, depth + 1);
    if (next === null) {
      failed = true;
      return undefined;
    }
    return next === f.value ? undefined : bytesField(f.no, next);
  });
  return failed ? null : out;
}

function redactBytesField(no: number, scope: Scope): (f: ProtoField) => Buffer | undefined {
  return (f) => {
    if (f.no !== no || f.wire !== 2) return undefined;
    scope.hits++;
    return bytesField(no, REDACTED_BYTES);
  };
}

/** Secret{metadata=1, data=2 map<string,bytes>, type=3, stringData=4 map<string,string>, immutable=5}: unknown fields are redacted too. */
function protoSecret(raw: Buffer, scope: Scope): Buffer | null {
  return editField(raw, (f) => {
    if (f.wire !== 2) return undefined;
    if (f.no === 1) {
      const meta = protoMeta(f.value as Buffer, true, scope);
      return meta === null ? null : meta === f.value ? undefined : bytesField(1, meta);
    }
    if (f.no === 3) return undefined;
    scope.hits++;
    if (f.no === 2 || f.no === 4) {
      // a map entry {key=1, value=2}: the key stays readable
      const entry = parseFields(f.value as Buffer);
      const key = entry?.find((e) => e.no === 1 && Buffer.isBuffer(e.value));
      return bytesField(f.no, Buffer.concat([key ? bytesField(1, key.value as Buffer) : Buffer.alloc(0), bytesField(2, REDACTED_BYTES)]));
    }
    return bytesField(f.no, REDACTED_BYTES);
  });
}

/** ObjectMeta: the last-applied annotation (annotations=12, map entries) of a Secret, or one that describes a Secret. */
function protoMeta(meta: Buffer, secret: boolean, scope: Scope): Buffer | null {
  if (!meta.includes(LAST_APPLIED)) return meta;
  return editField(meta, (f) => {
    if (f.no !== 12 || !Buffer.isBuffer(f.value)) return undefined;
    const entry = parseFields(f.value);
    if (!entry) return null;
    const key = entry.find((e) => e.no === 1);
    const value = entry.find((e) => e.no === 2);
    if (!key || !Buffer.isBuffer(key.value) || key.value.toString("utf8") !== LAST_APPLIED) return undefined;
    const text = value && Buffer.isBuffer(value.value) ? value.value.toString("utf8") : "";
    if (!secret && SECRET_IN_TEXT.test(text) === false && text.trimStart().startsWith("{")) return undefined;
    scope.hits++;
    return bytesField(12, Buffer.concat([bytesField(1, key.value), bytesField(2, REDACTED_BYTES)]));
  });
}
