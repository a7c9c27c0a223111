// proxy-auth: a client reached kubewire without this run's proxy token (or with an old one),
// so kubewire answered 401 itself and nothing went to the cluster.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { distinct, findingOf, requests } from "./lib/util.js";

export const rule: ExchangeRule = {
  kind: "proxy-auth",
  severity: "error",
  help: "a client came without kubewire's proxy token: it is not using the kubeconfig kubewire wrote",
  match: (ex: Exchange) => ex.error?.code === "PROXY_AUTH",
  explain(group, ctx) {
    const reasons = distinct(group.map((ex) => ex.error!.message));
    const agents = distinct(group.map((ex) => ex.client.userAgent.split(" ")[0] || "unknown client"));
    const n = ctx.groupSize ?? group.length;
    const message = `${requests(n)} ${n === 1 ? "was" : "were"} refused by kubewire (401) because the client did not send this run's proxy token.`;
    const evidence = [...reasons.slice(0, 3), `clients: ${agents.join(", ")}`];
    const advice = [
      "use the kubeconfig that kubewire wrote for this run (kubewire start prints its path; default ~/.kubewire/kubeconfig): each run has a new token, so an older copy is refused",
      "or let kubewire start the program for you: kubewire exec -- PROGRAM ARGS",
      "a client that adds its own Authorization header (a token from elsewhere) must use the generated kubeconfig's token instead",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};
