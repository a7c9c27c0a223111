// The shape of the rules for a connection that failed before TLS (dns, refused, reset):
// matched by error code, evidence is the error per server, advice names the kubeconfig server,
// or the cluster's proxy-url when reaching that proxy is what failed (ExchangeError.proxy).
import type { Exchange } from "../../types.js";
import type { ExchangeRule } from "./rule.js";
import { distinct, findingOf, requests } from "./util.js";

export function networkRule(spec: {
  kind: string;
  help: string;
  codes: string[];
  what: (servers: string) => string;
  advice: (group: Exchange[]) => string[];
  /** the advice when the failures were reaching the proxy-url (default: advice) */
  proxyAdvice?: (group: Exchange[], proxies: string[]) => string[];
}): ExchangeRule {
  const rule: ExchangeRule = {
    kind: spec.kind,
    severity: "error",
    help: spec.help,
    match: (ex) => ex.error !== null && spec.codes.includes(ex.error.code),
    explain(group, ctx) {
      const proxies = distinct(group.map((ex) => ex.error!.proxy).filter((p): p is string => !!p));
      const servers = distinct(group.map((ex) => (ex.error!.proxy ? `the proxy ${ex.error!.proxy} (proxy-url of context "${ex.context}")` : ex.clusterUrl))).join(", ");
      const evidence = distinct(group.map((ex) => `context "${ex.context}", server ${ex.clusterUrl}${ex.error!.proxy ? ` through the proxy ${ex.error!.proxy}` : ""}: ${ex.error!.code}: ${ex.error!.message}`));
      const advice = proxies.length && spec.proxyAdvice ? spec.proxyAdvice(group, proxies) : spec.advice(group);
      return findingOf(rule, group, `${requests(ctx.groupSize ?? group.length)} failed: ${spec.what(servers)}.`, evidence, advice);
    },
  };
  return rule;
}
