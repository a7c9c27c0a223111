// The shape of the rules for a connection that failed before TLS (dns, refused, reset):
// matched by error code, evidence is the error per server, advice names the kubeconfig server.
import type { Exchange } from "../../types.js";
import type { ExchangeRule } from "./rule.js";
import { distinct, findingOf, requests } from "./util.js";

export function networkRule(spec: { kind: string; help: string; codes: string[]; what: (servers: string) => string; advice: (group: Exchange[]) => string[] }): ExchangeRule {
  const rule: ExchangeRule = {
    kind: spec.kind,
    severity: "error",
    help: spec.help,
    match: (ex) => ex.error !== null && spec.codes.includes(ex.error.code),
    explain(group, ctx) {
      const servers = distinct(group.map((ex) => ex.clusterUrl)).join(", ");
      const evidence = distinct(group.map((ex) => `context "${ex.context}", server ${ex.clusterUrl}: ${ex.error!.code}: ${ex.error!.message}`));
      return findingOf(rule, group, `${requests(ctx.groupSize ?? group.length)} failed: ${spec.what(servers)}.`, evidence, spec.advice(group));
    },
  };
  return rule;
}
