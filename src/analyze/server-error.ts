// server-error: the API server itself answered 5xx (etcd trouble, a failing webhook or
// aggregated API, overload); kubewire's own 502s for unreachable servers are other kinds.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, distinct, findingOf, requests, responseMessage } from "./lib/util.js";

export const rule: ExchangeRule = {
  kind: "server-error",
  severity: "error",
  help: "5xx from the API server itself (not from kubewire)",
  match: (ex: Exchange) => ex.response !== null && ex.response.status >= 500,
  explain(group, ctx) {
    const statuses = distinct(group.map((ex) => ex.response!.status)).sort();
    const messages = distinct(group.map(responseMessage).filter(Boolean));
    const message = `${requests(ctx.groupSize ?? group.length)} got ${statuses.join("/")} from the API server${messages.length ? `: ${messages[0]}` : ""}.`;
    const evidence = [
      ...distinct(group.map((ex) => `${ex.response!.status} for ${describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path })}`)).slice(0, 10),
      ...messages.slice(0, 5).map((m) => `server said: ${m}`),
    ];
    const text = messages.join(" ").toLowerCase();
    const advice = [
      text.includes("etcd") ? "etcd is failing or slow: check etcd health (etcdctl endpoint health) and the API server's logs" : "",
      text.includes("webhook") ? "an admission webhook is failing: check kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations and the webhook's service" : "",
      statuses.includes(503) ? "503 often means an aggregated API (metrics-server, custom APIs) is unavailable: kubectl get apiservices" : "",
      "look at the API server's logs for these requests (match the Audit-Id response header from kubewire show ID)",
      "these are server-side problems: retry with backoff, and report them to the cluster's operators if they persist",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};
