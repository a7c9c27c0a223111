// upstream-lost: kubewire gave an API server connection up for dead (an HTTP/2 PING went unanswered
// after a read-idle interval, as client-go's health check does) and ended every stream riding it.
import { networkRule } from "./lib/network-rule.js";

export const rule = networkRule({
  kind: "upstream-lost",
  help: "a connection to the API server went silent (no answer to a PING) and its requests and watches were ended",
  codes: ["UPSTREAM_LOST"],
  what: (servers) => `the connection to ${servers} went silent and was given up for dead`,
  advice: () => [
    "the API server stopped answering without closing the connection: look for a paused or overloaded API server, a dropped VPN or NAT mapping, or a load balancer that silently forgets idle connections",
    "watches ended this way are restarted by informers; a client with its own watch loop must resume from its last resourceVersion",
    "kubewire's health check, like client-go's, PINGs after 30 s with nothing read and gives up 15 s later without an answer",
  ],
});
