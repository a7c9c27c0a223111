// The paths that name no resource: /version, the health checks (/healthz, /livez, /readyz and their
// ?verbose and single-check forms) and the discovery documents (/api, /apis, /apis/GROUP, /api(s)/.../VERSION).
import type { ApiContext, Call } from "./api-context.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, servesGroupVersion } from "./discovery.js";
import { negotiate, sendJson, sendNotAcceptable, sendStatus, sendText } from "./respond.js";
import * as st from "./status.js";

const READY_CHECKS = [
  "ping", "log", "etcd", "etcd-readiness", "informer-sync",
  "poststarthook/start-apiserver-admission-initializer", "poststarthook/generic-apiserver-start-informers",
  "poststarthook/priority-and-fairness-config-consumer", "poststarthook/priority-and-fairness-filter",
  "poststarthook/storage-object-count-tracker-hook", "poststarthook/start-apiextensions-informers",
  "poststarthook/start-apiextensions-controllers", "poststarthook/crd-informer-synced",
  "poststarthook/start-system-namespaces-controller", "poststarthook/start-cluster-authentication-info-controller",
  "poststarthook/start-kube-apiserver-identity-lease-controller", "poststarthook/start-legacy-token-tracking-controller",
  "poststarthook/start-service-ip-repair-controllers", "poststarthook/rbac/bootstrap-roles",
  "poststarthook/scheduling/bootstrap-system-priority-classes", "poststarthook/priority-and-fairness-config-producer",
  "poststarthook/bootstrap-controller", "poststarthook/aggregator-reload-proxy-client-cert",
  "poststarthook/start-kube-aggregator-informers", "poststarthook/apiservice-status-local-available-controller",
  "poststarthook/apiservice-registration-controller", "poststarthook/apiservice-discovery-controller",
  "poststarthook/kube-apiserver-autoregistration", "autoregister-completion",
  "poststarthook/apiservice-openapi-controller", "poststarthook/apiservice-openapiv3-controller", "shutdown",
];
const VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "70d3cc986aa8221cd1dfb1121852688902d3bf53",
  gitTreeState: "clean",
  buildDate: "2024-12-11T17:59:15Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};

/** `path` is the URL path without its trailing slashes. */
export function serveNonResource(ctx: ApiContext, { req, res, info, url, headers }: Call, path: string): void {
  const json = (body: unknown): void => {
    if (!negotiate(req.headers.accept, false).ok) return sendNotAcceptable(res);
    sendJson(res, 200, body, headers);
  };
  if (path === "/version") {
    const text = JSON.stringify(VERSION, null, 2);
    res.writeHead(200, { "Content-Type": "application/json", ...headers, "Content-Length": Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  const health = /^\/(healthz|livez|readyz)(\/(.+))?$/.exec(path);
  if (health) {
    const checks = READY_CHECKS.filter((c) => (health[1] === "readyz" ? true : !["informer-sync", "shutdown", "etcd-readiness"].includes(c)));
    if (health[3]) {
      if (!checks.includes(health[3])) return sendText(res, 404, "404 page not found\n", headers);
      return sendText(res, 200, "ok", headers);
    }
    if (url.searchParams.has("verbose")) {
      return sendText(res, 200, checks.map((c) => `[+]${c} ok\n`).join("") + `${health[1]} check passed\n`, headers);
    }
    return sendText(res, 200, "ok", headers);
  }
  if (path === "/api") return json(apiVersions(ctx.serverAddress()));
  if (path === "/apis") return json(apiGroupList());
  if (info.apiPrefix === "apis" && info.apiGroup && !info.apiVersion) {
    const g = apiGroup(info.apiGroup);
    return g ? json(g) : sendStatus(res, st.pathNotFound(), headers);
  }
  if (info.apiPrefix && info.apiVersion && servesGroupVersion(info.apiGroup, info.apiVersion) && (info.apiPrefix === "api") === (info.apiGroup === "")) {
    return json(apiResourceList(info.apiGroup, info.apiVersion));
  }
  sendStatus(res, st.pathNotFound(), headers);
}
