// refused: nothing listens at the API server's address and port (the cluster is down, the
// port is wrong, or a tunnel/port-forward is not running).
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
});
