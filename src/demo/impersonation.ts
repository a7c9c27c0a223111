// Impersonation as kube-apiserver's WithImpersonation filter does it: Impersonate-User,
// -Group, -Uid and -Extra-* headers, each authorized ("impersonate") for the requester.
import type { IncomingMessage } from "node:http";
import type { RequestInfo } from "../types.js";
import { authorize, forbiddenMessage, type Identity } from "./rbac.js";
import * as st from "./status.js";

const SA_PREFIX = "system:serviceaccount:";
const EXTRA_PREFIX = "impersonate-extra-";

/** Each value of a header as sent (Impersonate-Group and Impersonate-Extra-* may repeat; Node's req.headers would join them). */
function headerValues(req: IncomingMessage, name: string): string[] {
  return (req.headersDistinct[name] ?? []).filter((x) => x !== "");
}

/** The extra's key from its header name, %-decoded as the API server does (kept as is when malformed). */
function extraKey(headerName: string): string {
  const encoded = headerName.slice(EXTRA_PREFIX.length);
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}

/** "system:serviceaccount:ns:name" → [ns, name], as serviceaccount.SplitUsername. */
function splitServiceAccount(username: string): [string, string] | null {
  if (!username.startsWith(SA_PREFIX)) return null;
  const parts = username.slice(SA_PREFIX.length).split(":");
  return parts.length === 2 && parts[0] && parts[1] ? [parts[0], parts[1]] : null;
}

/** What the requester must be allowed to "impersonate": users, groups and service accounts are core; uids and userextras are authentication.k8s.io. */
function attributes(resource: string, namespace: string, name: string, subresource = ""): RequestInfo {
  const core = resource !== "uids" && resource !== "userextras";
  return { isResourceRequest: true, verb: "impersonate", apiPrefix: core ? "api" : "apis", apiGroup: core ? "" : "authentication.k8s.io", apiVersion: "v1", namespace, resource, subresource, name };
}

/**
 * The identity the request acts as: the requester itself when no impersonation header is
 * present, the impersonated user when every part is allowed, else the Status to answer with.
 */
export function impersonate(req: IncomingMessage, requester: Identity): Identity | st.Status {
  const user = headerValues(req, "impersonate-user")[0] ?? "";
  const groups = headerValues(req, "impersonate-group");
  const uid = headerValues(req, "impersonate-uid")[0] ?? "";
  const extras = Object.keys(req.headersDistinct).filter((h) => h.startsWith(EXTRA_PREFIX));
  if (!user && groups.length === 0 && !uid && extras.length === 0) return requester;
  if (!user) {
    return st.internalError(`requested ${[...groups.map((g) => `{Group ${g}}`), ...(uid ? [`{UID ${uid}}`] : [])].join(" ")} without impersonating a user`);
  }
  const checks: RequestInfo[] = [];
  const sa = splitServiceAccount(user);
  checks.push(sa ? attributes("serviceaccounts", sa[0], sa[1]) : attributes("users", "", user));
  for (const g of groups) checks.push(attributes("groups", "", g));
  for (const h of extras) {
    for (const value of headerValues(req, h)) checks.push(attributes("userextras", "", value, extraKey(h)));
  }
  if (uid) checks.push(attributes("uids", "", uid));
  for (const c of checks) {
    if (!authorize(requester, c, "").allowed) return st.forbidden(c.apiGroup, c.resource, c.name, forbiddenMessage(requester, c, ""));
  }
  const asGroups = groups.length > 0 ? [...groups] : sa ? ["system:serviceaccounts", `system:serviceaccounts:${sa[0]}`] : [];
  if (user === "system:anonymous") {
    if (!asGroups.includes("system:unauthenticated")) asGroups.push("system:unauthenticated");
  } else if (!asGroups.includes("system:authenticated") && !asGroups.includes("system:unauthenticated")) {
    asGroups.push("system:authenticated");
  }
  return { username: user, groups: asGroups };
}
