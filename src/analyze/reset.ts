// reset: the API server (or a load balancer or proxy in between) closed the connection
// in the middle of an exchange.
import { networkRule } from "./lib/network-rule.js";

export const rule = networkRule({
  kind: "reset",
  help: "the connection was reset by the API server or something in between",
  codes: ["ECONNRESET"],
  what: (servers) => `the connection to ${servers} was reset`,
  advice: () => [
    "check load balancers and proxies between here and the API server (idle timeouts, connection limits)",
    "if it happens while the API server restarts, retry with backoff; if under load, look at the API server's logs",
  ],
});
