// Keeps secrets out of the recording: redacts credential headers, the values of
// Secrets (data, stringData, last-applied annotation) and tokens in request/response bodies.
import type { CapturedBody, Headers, RequestInfo } from "../types.js";

export const REDACTED = "[redacted]";
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-kubewire-token"]);
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
/** resources whose bodies carry secret material */
const SENSITIVE_RESOURCES = new Set(["secrets", "tokenreviews", "tokenrequests"]);

export function redactHeaders(headers: Record<string, string | string[] | undefined>): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? redactHeaderValue(value) : value;
  }
  return out;
}

function redactHeaderValue(value: string | string[]): string | string[] {
  const one = (v: string) => {
    const scheme = /^(Bearer|Basic)\s/i.exec(v);
    return scheme ? `${scheme[1]} ${REDACTED}` : REDACTED;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

function isSensitive(info: RequestInfo): boolean {
  return SENSITIVE_RESOURCES.has(info.resource) || (info.resource === "serviceaccounts" && info.subresource === "token");
}

function redactSecretObject(obj: Record<string, unknown>, hits: { n: number }): void {
  for (const field of ["data", "stringData"]) {
    const values = obj[field];
    if (values && typeof values === "object") {
      for (const key of Object.keys(values)) {
        (values as Record<string, unknown>)[key] = REDACTED;
        hits.n++;
      }
    }
  }
  const annotations = (obj.metadata as { annotations?: Record<string, string> } | undefined)?.annotations;
  if (annotations && LAST_APPLIED in annotations) {
    annotations[LAST_APPLIED] = REDACTED;
    hits.n++;
  }
}

/** Walks any JSON value and redacts every Secret, token request/review and list of secrets in it. */
function redactValue(value: unknown, secretHint: boolean, hits: { n: number }): void {
  if (Array.isArray(value)) {
    for (const v of value) redactValue(v, secretHint, hits);
    return;
  }
  if (!value || typeof value !== "object") return;
  const obj = value as Record<string, unknown>;
  const kind = typeof obj.kind === "string" ? obj.kind : "";
  if (kind === "Secret" || (secretHint && kind === "")) redactSecretObject(obj, hits);
  if (kind === "TokenRequest" || kind === "TokenReview") {
    for (const part of ["spec", "status"]) {
      const p = obj[part] as Record<string, unknown> | undefined;
      if (p && typeof p.token === "string") {
        p.token = REDACTED;
        hits.n++;
      }
    }
  }
  const listOfSecrets = kind === "SecretList" || (secretHint && kind.endsWith("List"));
  for (const [k, v] of Object.entries(obj)) {
    if (k === "data" || k === "stringData") continue;
    if (v && typeof v === "object") redactValue(v, k === "items" ? listOfSecrets || secretHint : k === "object" ? secretHint : false, hits);
  }
}

/** Redacts a captured body in place of the original; sensitive bodies that cannot be parsed are dropped. */
export function redactBody(body: CapturedBody | null, info: RequestInfo, contentType: string | undefined): CapturedBody | null {
  if (!body || body.data === "") return body;
  const sensitive = isSensitive(info);
  const looksJson = body.encoding === "utf8" && /^\s*[[{]/.test(body.data);
  if (!looksJson) {
    if (!sensitive) return body;
    return { ...body, data: `${REDACTED} (${contentType ?? "unknown"} body of ${info.resource})`, encoding: "utf8" };
  }
  // Cheap exit for the common case: nothing in the body can be secret material.
  if (!sensitive && !/"(Secret|SecretList|TokenRequest|TokenReview)"/.test(body.data)) return body;
  // Watch streams and JSON-lines carry one object per line.
  const lines = body.data.includes("\n") ? body.data.split("\n") : [body.data];
  let changed = false;
  const out = lines.map((line) => {
    if (line.trim() === "") return line;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (sensitive || /"kind"\s*:\s*"(Secret|SecretList|TokenRequest|TokenReview)"/.test(line)) {
        changed = true;
        return `${REDACTED} (unparsable ${info.resource || "body"} fragment)`;
      }
      return line;
    }
    const hits = { n: 0 };
    redactValue(parsed, sensitive, hits);
    if (hits.n === 0) return line;
    changed = true;
    return JSON.stringify(parsed);
  });
  return changed ? { ...body, data: out.join("\n") } : body;
}
