// Derives the Kubernetes request info (verb, group, version, resource, subresource,
// namespace, name) from method, path and query, as kube-apiserver's RequestInfoFactory does.
import type { RequestInfo } from "../types.js";

const METHOD_VERBS: Record<string, string> = {
  POST: "create",
  GET: "get",
  HEAD: "get",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};
const SPECIAL_VERBS = new Set(["proxy", "watch"]);
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);
const TRUE_VALUES = new Set(["1", "t", "T", "TRUE", "true", "True"]);

function nonResource(method: string): RequestInfo {
  return {
    isResourceRequest: false,
    verb: method.toLowerCase(),
    apiPrefix: "",
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    resource: "",
    subresource: "",
    name: "",
  };
}

function decodeSegment(segment: string): string {
  if (!segment.includes("%")) return segment; // nothing to decode (the common case): no try, no copy
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `query` is the raw query string without "?". */
export function parseRequestInfo(method: string, path: string, query: string): RequestInfo {
  // the path's non-empty segments, decoded; `r` indexes the first one not yet read (no copies of the rest)
  const parts: string[] = [];
  for (const p of originForm(path).split("/")) if (p !== "") parts.push(decodeSegment(p));
  const n = parts.length;
  if (n < 2 || (parts[0] !== "api" && parts[0] !== "apis")) return nonResource(method);
  const info = nonResource(method);
  info.apiPrefix = parts[0];
  let r: number;
  if (parts[0] === "api") {
    info.apiVersion = parts[1];
    r = 2;
  } else {
    if (n < 3) return nonResource(method);
    info.apiGroup = parts[1];
    info.apiVersion = parts[2];
    r = 3;
  }
  if (r === n) return info; // discovery (/api/v1, /apis/apps/v1): prefix, group and version kept
  info.isResourceRequest = true;
  info.verb = METHOD_VERBS[method.toUpperCase()] ?? method.toLowerCase();
  if (SPECIAL_VERBS.has(parts[r])) {
    if (n - r < 2) return { ...nonResource(method) };
    info.verb = parts[r];
    r++;
  }
  if (parts[r] === "namespaces") {
    if (n - r > 1) {
      info.namespace = parts[r + 1];
      if (n - r > 2 && !NAMESPACE_SUBRESOURCES.has(parts[r + 2])) r += 2;
    }
  }
  info.resource = parts[r] ?? "";
  if (n - r >= 2) info.name = parts[r + 1];
  if (n - r >= 3 && info.verb !== "proxy") info.subresource = parts[r + 2];

  if (info.name === "" && info.verb === "get") {
    const params = new URLSearchParams(query);
    info.verb = TRUE_VALUES.has(params.get("watch") ?? "") ? "watch" : "list";
    const fieldName = exactNameSelector(params.get("fieldSelector"));
    if (fieldName) info.name = fieldName;
  }
  if (info.name === "" && info.verb === "delete") info.verb = "deletecollection";
  return info;
}

/**
 * The path of an absolute-form target (`https://host:port/api/v1/...`, RFC 9112 3.2.2), which Go's
 * server routes by its path as it does an origin-form one; any other path is returned as it is.
 */
export function originForm(path: string): string {
  if (path.charCodeAt(0) === 47) return path; // "/": origin-form already (every path but an absolute-form target)
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(path);
  return m ? path.slice(m[0].length) || "/" : path;
}

/** `metadata.name=x` or `metadata.name==x` as the only requirement on that field. */
function exactNameSelector(selector: string | null): string | null {
  if (!selector) return null;
  for (const term of selector.split(",")) {
    const m = /^metadata\.name(==|=)(.+)$/.exec(term.trim());
    if (m && /^[^/%]+$/.test(m[2]) && m[2] !== "." && m[2] !== "..") return m[2];
  }
  return null;
}
