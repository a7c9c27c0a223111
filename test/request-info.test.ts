// The request-info parser against the cases kube-apiserver's RequestInfoFactory documents.
import { describe, expect, it } from "vitest";
import { parseRequestInfo } from "../src/proxy/request-info.js";

describe("parseRequestInfo", () => {
  it.each([
    ["GET", "/api/v1/namespaces/default/pods", "", { verb: "list", resource: "pods", namespace: "default", name: "", apiGroup: "", apiVersion: "v1" }],
    ["GET", "/api/v1/namespaces/default/pods", "watch=true&resourceVersion=10", { verb: "watch", resource: "pods" }],
    ["GET", "/api/v1/namespaces/default/pods", "watch=1", { verb: "watch" }],
    ["GET", "/api/v1/namespaces/default/pods", "watch=false", { verb: "list" }],
    ["GET", "/api/v1/namespaces/default/pods/web-1", "", { verb: "get", name: "web-1" }],
    ["GET", "/api/v1/namespaces/default/pods/web-1/log", "follow=true", { verb: "get", subresource: "log", name: "web-1" }],
    ["POST", "/api/v1/namespaces/default/pods/web-1/exec", "command=ls", { verb: "create", subresource: "exec" }],
    ["DELETE", "/api/v1/namespaces/default/pods/web-1", "", { verb: "delete", name: "web-1" }],
    ["DELETE", "/api/v1/namespaces/default/pods", "", { verb: "deletecollection", name: "" }],
    ["PATCH", "/apis/apps/v1/namespaces/prod/deployments/api", "", { verb: "patch", apiGroup: "apps", resource: "deployments", namespace: "prod", name: "api" }],
    ["PUT", "/apis/apps/v1/namespaces/prod/deployments/api/scale", "", { verb: "update", subresource: "scale" }],
    ["POST", "/apis/apps/v1/namespaces/prod/deployments", "", { verb: "create", resource: "deployments", name: "" }],
    ["GET", "/api/v1/nodes", "", { verb: "list", resource: "nodes", namespace: "" }],
    ["GET", "/api/v1/namespaces", "", { verb: "list", resource: "namespaces", namespace: "" }],
    ["GET", "/api/v1/namespaces/default", "", { verb: "get", resource: "namespaces", namespace: "default", name: "default" }],
    ["PUT", "/api/v1/namespaces/default/finalize", "", { verb: "update", resource: "namespaces", name: "default", subresource: "finalize" }],
    ["GET", "/api/v1/watch/namespaces/default/pods", "", { verb: "watch", resource: "pods", namespace: "default" }],
    ["GET", "/api/v1/proxy/namespaces/default/pods/web-1/some/path", "", { verb: "proxy", resource: "pods", name: "web-1", subresource: "" }],
    ["GET", "/api/v1/namespaces/default/pods", "fieldSelector=metadata.name%3Dweb-1", { verb: "list", name: "web-1" }],
    ["POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", { verb: "create", apiGroup: "authorization.k8s.io", resource: "selfsubjectaccessreviews" }],
  ])("%s %s?%s is understood as kube-apiserver does", (method, path, query, expected) => {
    const info = parseRequestInfo(method, path, query);
    expect(info.isResourceRequest).toBe(true);
    expect(info).toMatchObject(expected);
  });

  it.each([
    ["GET", "/api"],
    ["GET", "/apis"],
    ["GET", "/api/v1"],
    ["GET", "/apis/apps/v1"],
    ["GET", "/version"],
    ["GET", "/readyz"],
    ["GET", "/openapi/v2"],
  ])("%s %s is a non-resource request with the method as its verb", (method, path) => {
    const info = parseRequestInfo(method, path, "");
    expect(info.isResourceRequest).toBe(false);
    expect(info.verb).toBe("get");
    expect(info.resource).toBe("");
  });

  it.each([
    ["https://10.0.0.1:6443/api/v1/namespaces/d/secrets/s", { verb: "get", resource: "secrets", namespace: "d", name: "s" }],
    ["http://kubernetes/api/v1/namespaces/d/secrets", { verb: "list", resource: "secrets", namespace: "d" }],
    ["HTTPS://[::1]:443/apis/authentication.k8s.io/v1/tokenreviews", { verb: "list", resource: "tokenreviews", apiGroup: "authentication.k8s.io" }],
  ])("reads the absolute-form target %s by its path, as kube-apiserver does", (path, expected) => {
    expect(parseRequestInfo("GET", path, "")).toMatchObject({ isResourceRequest: true, ...expected });
  });

  it("keeps going on invalid percent-encoding instead of throwing", () => {
    const info = parseRequestInfo("GET", "/api/v1/namespaces/%zz/pods/%E0%A4%A", "");
    expect(info.namespace).toBe("%zz");
    expect(info.name).toBe("%E0%A4%A");
  });
});
