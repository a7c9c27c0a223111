// What counts as secret, for every redaction kubewire does: the placeholder, the kinds and fields
// that carry Secret material or tokens, and what a request's path says about its bodies.
import type { RequestInfo } from "../types.js";

export const REDACTED = "[redacted]";
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
export const TOKEN_KINDS = new Set(["TokenRequest", "TokenReview"]);
/** The only fields of a Secret kept as they are; every other field's values are redacted. */
export const SECRET_SAFE_FIELDS = new Set(["apiVersion", "kind", "metadata", "type", "immutable"]);
/** A last-applied annotation (or other JSON text) that describes a Secret. */
export const SECRET_IN_TEXT = /"kind"\s*:\s*"Secret(?:List)?"/;

/** What a path says about its bodies, and how many values were redacted so far. */
export interface Scope {
  /** on a secrets path: every object is treated as Secret material */
  secretPath: boolean;
  /** on a token path (TokenReview, TokenRequest, serviceaccounts/token): every `token` field is redacted */
  tokenPath: boolean;
  hits: number;
}

export function scopeOf(info: RequestInfo): Scope {
  const r = info.resource;
  return {
    secretPath: r === "secrets",
    tokenPath: r === "tokenreviews" || r === "tokenrequests" || (r === "serviceaccounts" && info.subresource === "token"),
    hits: 0,
  };
}

export const sensitive = (s: Scope) => s.secretPath || s.tokenPath;
