// Derives the Kubernetes RequestInfo (verb, group, namespace, resource, name,
// subresource) from method, path and query the way kube-apiserver's RequestInfoFactory does.
import type { RequestInfo } from "../types.js";

const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

export function requestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const info: RequestInfo = {
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
  let parts = path.replace(/^\/+|\/+$/g, "").split("/").filter((p) => p !== "").map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] !== "api" && parts[0] !== "apis")) return info;
  info.apiPrefix = parts[0];
  parts = parts.slice(1);
  if (info.apiPrefix === "apis") {
    if (parts.length < 1) return info;
    info.apiGroup = parts[0];
    parts = parts.slice(1);
  }
  if (parts.length < 1) return info;
  info.apiVersion = parts[0];
  parts = parts.slice(1);
  if (parts.length < 1) return info; // discovery of a group-version
  info.isResourceRequest = true;
  switch (method) {
    case "POST": info.verb = "create"; break;
    case "GET": case "HEAD": info.verb = "get"; break;
    case "PUT": info.verb = "update"; break;
    case "PATCH": info.verb = "patch"; break;
    case "DELETE": info.verb = "delete"; break;
    default: info.verb = "";
  }
  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      info.namespace = parts[1];
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) parts = parts.slice(2);
    }
  }
  if (parts.length >= 3) info.subresource = parts[2];
  if (parts.length >= 2) info.name = parts[1];
  info.resource = parts[0];
  const watch = query.get("watch");
  if (info.verb === "get" && !info.name) {
    info.verb = watch === "true" || watch === "1" ? "watch" : "list";
    const byName = exactName(query.get("fieldSelector"));
    if (byName) info.name = byName;
  }
  if (info.verb === "delete" && !info.name) info.verb = "deletecollection";
  return info;
}

/** The name a field selector pins with `metadata.name=x` (or `==`), if any. */
export function exactName(fieldSelector: string | null): string {
  for (const term of (fieldSelector ?? "").split(",")) {
    const m = /^\s*metadata\.name\s*==?\s*([^\s]+)\s*$/.exec(term);
    if (m) return m[1];
  }
  return "";
}
