// Runs the rules: flagsOf (per exchange, cheap: used while recording) and analyze (a whole set
// in memory: tests and small recordings); the CLI's scalable path reuses explainKind and the set rules.
import type { CertInfo, Exchange, Finding } from "../../types.js";
import { UserError } from "../../errors.js";
import { rules } from "../index.js";
import { isExchangeRule, type AnalyzeContext, type ExchangeRule, type ExchangeSummary, type Rule, type SetRule } from "./rule.js";
import { summaryOf } from "./util.js";

export const exchangeRules: ExchangeRule[] = rules.filter(isExchangeRule);
export const setRules: SetRule[] = rules.filter((r): r is SetRule => !isExchangeRule(r));

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** The per-exchange kinds an exchange raises. Pure and cheap: a few comparisons per rule. */
export function flagsOf(ex: Exchange): string[] {
  const kinds: string[] = [];
  for (const rule of exchangeRules) {
    try {
      if (rule.match(ex)) kinds.push(rule.kind);
    } catch {
      // a rule that cannot read an odd exchange does not flag it
    }
  }
  return kinds;
}

export function ruleFor(kind: string): Rule {
  const rule = rules.find((r) => r.kind === kind);
  if (!rule) throw unknownKind(kind);
  return rule;
}

export function unknownKind(kind: string): UserError {
  return new UserError(`unknown flag kind "${kind}"; kinds: ${rules.map((r) => r.kind).join(", ")}`, "kubewire flags --help describes each kind");
}

/** Findings in help order within severity (errors first). */
export function sortFindings(findings: Finding[]): Finding[] {
  const order = new Map(rules.map((r, i) => [r.kind, i]));
  return [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || (order.get(a.kind) ?? 99) - (order.get(b.kind) ?? 99));
}

/** Everything found in a set of exchanges held in memory (oldest first, ids set). */
export function analyze(exchanges: Exchange[], ctx: AnalyzeContext): Finding[] {
  const sorted = [...exchanges].sort((a, b) => a.startedAt - b.startedAt || (a.id ?? 0) - (b.id ?? 0));
  const findings: Finding[] = [];
  for (const rule of exchangeRules) {
    const group = sorted.filter((ex) => rule.match(ex));
    if (group.length > 0) findings.push(rule.explain(group, ctx));
  }
  const chains = new Map<number, CertInfo[]>();
  const chainIds = new Map<string, number>();
  const rows: ExchangeSummary[] = sorted.map((ex) => {
    const row = summaryOf(ex);
    const chain = ex.tls?.chain;
    if (chain && chain.length > 0) {
      const fp = chain.map((c) => c.sha256).join(",");
      let id = chainIds.get(fp);
      if (id === undefined) {
        id = chainIds.size + 1;
        chainIds.set(fp, id);
        chains.set(id, chain);
      }
      row.tlsChainId = id;
    }
    return row;
  });
  for (const rule of setRules) {
    const result = rule.analyze({ rows, chains }, ctx);
    if (result) findings.push(result.finding);
  }
  return sortFindings(findings);
}
