// refused: nothing listens at the API server's address and port (the cluster is down, the
// port is wrong, or a tunnel/port-forward is not running), or at the cluster's proxy-url.
import { networkRule } from "./lib/network-rule.js";

export const rule = networkRule({
  kind: "refused",
  help: "nothing listens at the API server's address: connection refused",
  codes: ["ECONNREFUSED"],
  what: (servers) => `nothing accepts connections at ${servers}`,
  advice: (group) => [
    `is the API server running, and are the host and port in the server of context "${group[0].context}" right?`,
    "for a local cluster (kind, minikube, k3d) start it again; for a tunnel or port-forward, start that first",
  ],
  proxyAdvice: (group, proxies) => [
    `the API server was never tried: nothing accepts connections at the proxy ${proxies.join(", ")}, the proxy-url of the cluster of context "${group[0].context}"`,
    "is the proxy running, and are the host and port in proxy-url right? (kubectl config view --minify -o jsonpath='{.clusters[0].cluster.proxy-url}')",
    "if no proxy is needed to reach this cluster, remove proxy-url from the cluster entry",
  ],
});
