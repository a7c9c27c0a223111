// The shape every upstream TLS verification rule shares: matched by Node's verification codes,
// the presented chain as evidence, and the kubeconfig field that fixes it as advice.
import type { Exchange, Finding } from "../../types.js";
import type { AnalyzeContext, ExchangeRule } from "./rule.js";
import { chainEvidence, distinct, findingOf } from "./util.js";

export interface TlsRuleSpec {
  kind: string;
  help: string;
  codes: string[];
  /** the sentence, given the group (oldest first) */
  message(group: Exchange[], ctx: AnalyzeContext): string;
  extraEvidence?(group: Exchange[]): string[];
  advice(group: Exchange[]): string[];
}

export function tlsRule(spec: TlsRuleSpec): ExchangeRule {
  const rule: ExchangeRule = {
    kind: spec.kind,
    severity: "error",
    help: spec.help,
    match: (ex) => ex.error !== null && spec.codes.includes(ex.error.code),
    explain(group, ctx): Finding {
      const errors = distinct(group.map((ex) => `${ex.error!.code}: ${ex.error!.message}`));
      const evidence = [...errors.slice(0, 3), ...chainEvidence(group), ...(spec.extraEvidence?.(group) ?? [])];
      return findingOf(rule, group, spec.message(group, ctx), evidence, spec.advice(group));
    },
  };
  return rule;
}

export function servers(group: Exchange[]): string {
  return distinct(group.map((ex) => ex.clusterUrl)).join(", ");
}

export function leaf(group: Exchange[]) {
  return group.find((ex) => (ex.tls?.chain.length ?? 0) > 0)?.tls!.chain[0];
}
