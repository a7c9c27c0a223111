// The one redactor: every header and body kubewire keeps or prints passes through here first.
// Default-deny by content: Secret material is found wherever it sits (objects of kind Secret at any
// depth, lists, Table rows, watch events, patches, YAML, protobuf) and token-bearing kinds by path
// and by kind; a body on a sensitive path that cannot be parsed is replaced by a placeholder.
// What counts as secret is in redact-policy.ts; protobuf bodies are edited by redact-protobuf.ts.
import { constants as zlibConstants, gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import type YAML from "yaml";
import type { CapturedBody, Headers, RequestInfo } from "../types.js";
import { isEnvelope, isProtobufType, looksFramed } from "./protobuf.js";
import { LAST_APPLIED, REDACTED, SECRET_IN_TEXT, SECRET_SAFE_FIELDS, TOKEN_KINDS, scopeOf, sensitive, type Scope } from "./redact-policy.js";
import { redactProtobuf } from "./redact-protobuf.js";

export { LAST_APPLIED, REDACTED } from "./redact-policy.js";

const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-kubewire-token"]);
/** Any other header whose name says it carries a credential (X-Auth-Token, X-Api-Key, X-Amz-Security-Token...). */
const SECRET_HEADER_NAME = /(^|-)(token|secret|password|passwd|api-?key|credentials?|session)($|-)/;
/** Headers that match that pattern but carry no credential: kubectl's per-invocation UUID (it tells one kubectl run from the next). */
const NOT_SECRET_HEADERS = new Set(["kubectl-session"]);
/** How browsers and some WebSocket clients carry a bearer token (client-go's wsstream, the dashboard). */
const WS_BEARER = "base64url.bearer.authorization.k8s.io.";
/** Words that must be present for an ordinary (non-sensitive) body to hold anything to redact. */
const MARKER = /Secret|TokenRe(?:quest|view)/;
/** A sensitive kind named in JSON text, escaped or not (inside an annotation): for text that cannot be parsed. */
const SENSITIVE_KIND_IN_TEXT = /\\?"kind\\?"\s*:\s*\\?"(?:Secret|SecretList|TokenRequest|TokenReview)\\?"/;

// ---- headers

/** Query parameters that carry credentials (`access_token`, `id_token`, `password`, `api_key`, a signature). */
const SECRET_PARAM_NAME = /(^|[-_])(token|secret|password|passwd|api[-_]?key|apikey|credentials?|sig|signature)($|[-_])/;

/** A raw query string with the values of credential-named parameters replaced; every other byte as sent. */
export function redactQuery(query: string): string {
  if (query === "") return query;
  return query
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq === -1) return pair;
      let name: string;
      try {
        name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, " ")).toLowerCase();
      } catch {
        name = pair.slice(0, eq).toLowerCase();
      }
      return SECRET_PARAM_NAME.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join("&");
}

/** How a header name's values are kept: as they are, as a credential, or as WebSocket subprotocols. */
const enum HeaderKind {
  Plain,
  Credential,
  WebSocketProtocols,
}

/** Header names seen so far and their kind: the same few dozen names recur on every request, so each is classified once. */
const headerKinds = new Map<string, HeaderKind>();
const MAX_KNOWN_HEADERS = 4096;

function headerKind(name: string): HeaderKind {
  let kind = headerKinds.get(name);
  if (kind !== undefined) return kind;
  const lower = name.toLowerCase();
  if (SECRET_HEADERS.has(lower) || (SECRET_HEADER_NAME.test(lower) && !NOT_SECRET_HEADERS.has(lower))) kind = HeaderKind.Credential;
  else if (lower === "sec-websocket-protocol") kind = HeaderKind.WebSocketProtocols;
  else kind = HeaderKind.Plain;
  if (headerKinds.size >= MAX_KNOWN_HEADERS) headerKinds.clear(); // a client inventing names cannot grow it without bound
  headerKinds.set(name, kind);
  return kind;
}

/** The headers as kept: credential values redacted. `withoutPseudo`: HTTP/2 pseudo-headers (`:path`...) are left out. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>, withoutPseudo = false): Headers {
  const out: Headers = {};
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || (withoutPseudo && name.charCodeAt(0) === 58)) continue; // 58: ":"
    switch (headerKind(name)) {
      case HeaderKind.Plain:
        out[name] = value;
        break;
      case HeaderKind.Credential:
        out[name] = mapValue(value, redactCredential);
        break;
      case HeaderKind.WebSocketProtocols:
        out[name] = mapValue(value, redactWebSocketProtocols);
    }
  }
  return out;
}

function mapValue(value: string | string[], one: (v: string) => string): string | string[] {
  return Array.isArray(value) ? value.map(one) : one(value);
}

function redactCredential(v: string): string {
  const scheme = /^(Bearer|Basic)\s/i.exec(v);
  return scheme ? `${scheme[1]} ${REDACTED}` : REDACTED;
}

/** Keeps every offered subprotocol but the bearer token one, whose token is replaced. */
function redactWebSocketProtocols(v: string): string {
  if (!v.toLowerCase().includes(WS_BEARER)) return v;
  return v
    .split(",")
    .map((p) => {
      const lead = /^\s*/.exec(p)![0];
      return p.trim().toLowerCase().startsWith(WS_BEARER) ? `${lead}${WS_BEARER}${REDACTED}` : p;
    })
    .join(",");
}

// ---- placeholders

function placeholder(body: CapturedBody, why: string): CapturedBody {
  return { ...body, data: `${REDACTED} (${why}; not kept)`, encoding: "utf8" };
}

function what(info: RequestInfo, contentType: string | undefined): string {
  const type = (contentType ?? "").split(";")[0].trim() || "untyped";
  return `${type} body ${info.resource ? `on a ${info.resource}${info.subresource ? `/${info.subresource}` : ""} path` : "holding Secret material"}`;
}

// ---- bodies

/**
 * Redacts a captured body (already decoded from gzip); the result replaces the original wherever
 * it is kept. Ordinary bodies with nothing to redact come back as the same object.
 */
export function redactBody(body: CapturedBody | null, info: RequestInfo, contentType: string | undefined): CapturedBody | null {
  if (!body || body.data === "") return body;
  const scope = scopeOf(info);
  const protobufType = isProtobufType(contentType);
  if (body.encoding === "base64" || protobufType || body.data.startsWith("k8s\u0000")) {
    const bytes = Buffer.from(body.data, body.encoding === "base64" ? "base64" : "utf8");
    if (isEnvelope(bytes) || (protobufType && looksFramed(bytes))) return redactProtobufBody(body, bytes, scope, info, contentType);
    if (body.encoding === "base64") {
      if (sensitive(scope) || MARKER.test(bytes.toString("latin1")) || MARKER.test(gunzipped(bytes))) return placeholder(body, `binary ${what(info, contentType)} that kubewire cannot read`);
      return body;
    }
  }
  const text = body.data;
  if (!sensitive(scope) && !MARKER.test(text)) return body; // the common case: nothing here can be secret
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    const whole = tryJson(text);
    if (whole.ok) return redactParsed(body, whole.value, scope, info, contentType, (v) => JSON.stringify(v));
    const lines = redactJsonLines(text, scope);
    if (lines !== null) return lines === text ? body : { ...body, data: lines };
    if (SENSITIVE_KIND_IN_TEXT.test(text)) return placeholder(body, `${what(info, contentType)} that does not parse (cut at capture?) and names a Secret or token kind`);
  }
  return redactYaml(body, scope, info, contentType);
}

/** A gzip body (still compressed when it reaches here) as latin1 text, to look for markers in; "" when it is not gzip. */
function gunzipped(bytes: Buffer): string {
  if (bytes.length < 18 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return "";
  try {
    return gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 64 << 20 }).toString("latin1");
  } catch {
    return "Secret"; // a gzip body that does not inflate cannot be shown to hold nothing
  }
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function redactParsed(body: CapturedBody, value: unknown, scope: Scope, info: RequestInfo, contentType: string | undefined, write: (v: unknown) => string): CapturedBody {
  if (sensitive(scope) && (value === null || typeof value !== "object")) return placeholder(body, `${what(info, contentType)} that is not a Kubernetes object`);
  redactValue(value, scope);
  return scope.hits === 0 ? body : { ...body, data: write(value) };
}

/**
 * Watch streams and JSON lines: one object per line. Null when the first line is not JSON
 * (a pretty-printed or cut document); a later line that does not parse (the cut end of a
 * capture) is replaced when it could hold secrets.
 */
function redactJsonLines(text: string, scope: Scope): string | null {
  const lines = text.split("\n");
  let first = true;
  let changed = false;
  const out: string[] = [];
  for (const line of lines) {
    if (line.trim() === "") {
      out.push(line);
      continue;
    }
    const parsed = tryJson(line);
    if (!parsed.ok) {
      if (first) return null;
      if (sensitive(scope) || SENSITIVE_KIND_IN_TEXT.test(line)) {
        changed = true;
        out.push(`${REDACTED} (a line that does not parse, cut at capture; not kept)`);
      } else out.push(line);
      continue;
    }
    first = false;
    const before = scope.hits;
    if (sensitive(scope) && (parsed.value === null || typeof parsed.value !== "object")) {
      scope.hits++;
      out.push(`${REDACTED} (a line that is not a Kubernetes object; not kept)`);
    } else redactValue(parsed.value, scope);
    if (scope.hits === before) out.push(line);
    else {
      changed = true;
      if (typeof parsed.value === "object" && parsed.value !== null) out.push(JSON.stringify(parsed.value));
    }
  }
  return changed ? out.join("\n") : text;
}

/** yaml, loaded with the first YAML body (rare: clients send JSON), not by every start (exec's start-up) */
let yamlModule: typeof YAML | null = null;
const yaml = (): typeof YAML => (yamlModule ??= createRequire(import.meta.url)("yaml") as typeof YAML);

function redactYaml(body: CapturedBody, scope: Scope, info: RequestInfo, contentType: string | undefined): CapturedBody {
  const yamlish = /yaml/i.test(contentType ?? "");
  if (!yamlish && !sensitive(scope)) return body; // prose that mentions a Secret (a log line, an error text)
  let docs: unknown[];
  try {
    const parsed = yaml().parseAllDocuments(body.data);
    if (!Array.isArray(parsed) || parsed.some((d) => d.errors.length > 0)) throw new Error("yaml errors");
    docs = parsed.map((d) => d.toJS({ maxAliasCount: 100 }));
  } catch {
    return placeholder(body, `${what(info, contentType)} that kubewire cannot parse`);
  }
  if (sensitive(scope) && docs.some((d) => d !== null && typeof d !== "object")) return placeholder(body, `${what(info, contentType)} that is not a Kubernetes object`);
  for (const d of docs) redactValue(d, scope);
  if (scope.hits === 0) return body;
  return { ...body, data: docs.map((d) => yaml().stringify(d, { lineWidth: 0 })).join("---\n") };
}

// ---- JSON values (also YAML once parsed)

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

/** A JSON patch: an array of operations, each with `op` and `path`. */
function isJsonPatch(v: unknown): v is Obj[] {
  return Array.isArray(v) && v.length > 0 && v.every((op) => isObj(op) && typeof op.op === "string" && typeof op.path === "string");
}

function redactValue(value: unknown, scope: Scope): void {
  if (scope.secretPath && isJsonPatch(value)) return redactSecretPatch(value, scope);
  walk(value, scope, scope.secretPath, scope.tokenPath, 0);
}

/** Replaces a value; an object or array keeps its keys (or length) and loses every leaf. */
function blank(v: unknown, scope: Scope): unknown {
  scope.hits++;
  if (isObj(v)) return Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED]));
  return REDACTED;
}

function walk(v: unknown, scope: Scope, secretish: boolean, tokenish: boolean, depth: number): void {
  if (depth > 200) return;
  if (Array.isArray(v)) {
    for (const item of v) walk(item, scope, secretish, tokenish, depth + 1);
    return;
  }
  if (!isObj(v)) return;
  const kind = typeof v.kind === "string" ? v.kind : "";
  const isToken = tokenish || TOKEN_KINDS.has(kind);
  if (kind === "Secret") {
    for (const k of Object.keys(v)) if (!SECRET_SAFE_FIELDS.has(k)) v[k] = blank(v[k], scope);
  } else if (secretish) {
    for (const k of ["data", "stringData"]) if (k in v && v[k] !== null) v[k] = blank(v[k], scope);
  }
  if (isToken && typeof v.token === "string") {
    v.token = REDACTED;
    scope.hits++;
  }
  redactLastApplied(v.metadata, secretish || kind === "Secret", scope);
  const itemsAreSecrets = secretish || kind === "SecretList";
  for (const [k, child] of Object.entries(v)) {
    if (child && typeof child === "object") walk(child, scope, k === "items" ? itemsAreSecrets : secretish, isToken, depth + 1);
  }
}

/** The last-applied annotation holds the applied object in clear: gone for Secrets, and wherever it describes one. */
function redactLastApplied(metadata: unknown, secret: boolean, scope: Scope): void {
  if (!isObj(metadata) || !isObj(metadata.annotations)) return;
  const a = metadata.annotations;
  const value = a[LAST_APPLIED];
  if (value === undefined || value === REDACTED) return;
  if (secret || typeof value !== "string" || SECRET_IN_TEXT.test(value) || !value.trimStart().startsWith("{")) {
    a[LAST_APPLIED] = REDACTED;
    scope.hits++;
  }
}

/** A JSON patch on a secrets path: metadata stays readable; any other value (data, stringData, the whole object) is redacted. */
function redactSecretPatch(ops: Obj[], scope: Scope): void {
  for (const op of ops) {
    if (!("value" in op)) continue;
    const path = String(op.path);
    if (path === "/metadata" || (path.startsWith("/metadata/") && !path.includes("last-applied"))) {
      const wrapped = path === "/metadata" ? { metadata: op.value } : path === "/metadata/annotations" ? { metadata: { annotations: op.value } } : null;
      if (wrapped) redactLastApplied(wrapped.metadata, true, scope);
      walk(op.value, scope, true, false, 1);
    } else if (path === "" || path === "/") {
      if (isObj(op.value)) {
        // the whole Secret, whatever its kind field says
        for (const k of Object.keys(op.value)) if (!SECRET_SAFE_FIELDS.has(k)) op.value[k] = blank(op.value[k], scope);
        redactLastApplied(op.value.metadata, true, scope);
      } else op.value = blank(op.value, scope);
    } else op.value = blank(op.value, scope);
  }
}

// ---- protobuf

function redactProtobufBody(body: CapturedBody, bytes: Buffer, scope: Scope, info: RequestInfo, contentType: string | undefined): CapturedBody {
  if (!sensitive(scope) && !bytes.includes("Secret") && !bytes.includes("TokenRe")) return body;
  const out = redactProtobuf(bytes, scope);
  if (out === null) return placeholder(body, `${what(info, contentType)} whose protobuf kubewire cannot redact`);
  return out === bytes ? body : { ...body, data: out.toString("base64"), encoding: "base64" };
}
