// Impersonation as kube-apiserver's WithImpersonation filter does it: Impersonate-User,
// Impersonate-Group and Impersonate-Uid headers, each authorized ("impersonate") for the requester.
import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../types.js";
import { authorize, forbiddenMessage, type Identity } from "./rbac.js";
import * as st from "./status.js";

const SA_PREFIX = "system:serviceaccount:";

function headerValues(req: IncomingMessage, name: string): string[] {
  const v = req.headers[name];
  if (v === undefined) return [];
  // Node joins repeated headers with ", " (except a few); Impersonate-Group may repeat.
  return (Array.isArray(v) ? v : name === "impersonate-group" ? v.split(/,\s*/) : [v]).filter((x) => x !== "");
}

/** "system:serviceaccount:ns:name" → [ns, name], as serviceaccount.SplitUsername. */
function splitServiceAccount(username: string): [string, string] | null {
  if (!username.startsWith(SA_PREFIX)) return null;
  const parts = username.slice(SA_PREFIX.length).split(":");
  return parts.length === 2 && parts[0] && parts[1] ? [parts[0], parts[1]] : null;
}

function attributes(resource: string, namespace: string, name: string): RequestInfo {
  return { isResourceRequest: true, verb: "impersonate", apiPrefix: "api", apiGroup: "", apiVersion: "v1", namespace, resource, subresource: "", name };
}

/**
 * The identity the request acts as: the requester itself when no impersonation header is
 * present, the impersonated user when every part is allowed, else the Status to answer with.
 */
export function impersonate(req: IncomingMessage, requester: Identity): Identity | st.Status {
  const user = headerValues(req, "impersonate-user")[0] ?? "";
  const groups = headerValues(req, "impersonate-group");
  const uid = headerValues(req, "impersonate-uid")[0] ?? "";
  const extras = Object.keys(req.headers).filter((h) => h.startsWith("impersonate-extra-"));
  if (!user && groups.length === 0 && !uid && extras.length === 0) return requester;
  if (!user) {
    return st.internalError(`requested ${[...groups.map((g) => `{Group ${g}}`), ...(uid ? [`{UID ${uid}}`] : [])].join(" ")} without impersonating a user`);
  }
  const checks: RequestInfo[] = [];
  const sa = splitServiceAccount(user);
  checks.push(sa ? attributes("serviceaccounts", sa[0], sa[1]) : attributes("users", "", user));
  for (const g of groups) checks.push(attributes("groups", "", g));
  if (uid) checks.push(attributes("uids", "", uid));
  for (const c of checks) {
    if (!authorize(requester, c, "").allowed) return st.forbidden(c.apiGroup, c.resource, c.name, forbiddenMessage(requester, c, ""));
  }
  let asGroups = groups.length > 0 ? [...groups] : sa ? ["system:serviceaccounts", `system:serviceaccounts:${sa[0]}`] : [];
  if (groups.length === 0 && user !== "system:anonymous" && !asGroups.includes("system:authenticated") && !asGroups.includes("system:unauthenticated")) {
    asGroups = [...asGroups, "system:authenticated"];
  }
  return { username: user, groups: asGroups };
}
