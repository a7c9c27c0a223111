// Runs the rules: flagsOf (per exchange, cheap: used while recording) and analyze (a whole set
// in memory: tests and small recordings); the CLI's scalable path reuses explainKind and the set rules.
import type { Exchange, Finding } from "../../types.js";
import { UserError } from "../../errors.js";
import { rules } from "../index.js";
import { isExchangeRule, type AnalyzeContext, type Baseline, type ChainUse, type ExchangeRule, type ExchangeSummary, type ListsAndWatches, type Rule, type SetRule, type SetSource } from "./rule.js";
import { CollectionReadsBuilder } from "../../store/collection-reads.js";
import { MAX_IDS, pushTo, retryHeadersOf, summaryOf } from "./util.js";

export const exchangeRules: ExchangeRule[] = rules.filter(isExchangeRule);
export const setRules: SetRule[] = rules.filter((r): r is SetRule => !isExchangeRule(r));

const INJECTED = "injected";

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 } as const;

/** The per-exchange kinds an exchange raises. Pure and cheap: a few comparisons per rule. */
export function flagsOf(ex: Exchange): string[] {
  // a fault kubewire made on purpose is nobody's problem: no rule blames the API server for it
  if (ex.injected) return [INJECTED];
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

function unknownKind(kind: string): UserError {
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
  // grouped by flagsOf, as the recorder stores flags and `flags` reads them
  const groups = new Map<string, Exchange[]>();
  for (const ex of sorted) for (const kind of flagsOf(ex)) pushTo(groups, kind, ex);
  const findings: Finding[] = [];
  for (const rule of exchangeRules) {
    const group = groups.get(rule.kind);
    if (group) findings.push(rule.explain(group, ctx));
  }
  const source = memorySource(sorted.filter((ex) => !ex.injected)); // injected faults are nobody's problem
  for (const rule of setRules) {
    const result = rule.analyze(source, ctx);
    if (result) findings.push(result.finding);
  }
  return sortFindings(findings);
}

function groupKey(r: { context: string; verb: string; group: string; resource: string; subresource: string }): string {
  return [r.context, r.verb, r.group, r.resource, r.subresource].join("\u0000");
}

/** Median of ascending values (the lower middle for even counts, as the store's nearest rank). */
function p50(sorted: number[]): number {
  return sorted[Math.max(0, Math.ceil(sorted.length * 0.5) - 1)];
}

/** The SetSource over exchanges held in memory (oldest first): the same answers the store gives from its indexes. */
function memorySource(sorted: Exchange[]): SetSource {
  const rows = sorted.map(summaryOf);
  let baselines: Baseline[] | undefined;
  return {
    baselines() {
      if (baselines) return baselines;
      const groups = new Map<string, ExchangeSummary[]>();
      for (const r of rows) pushTo(groups, groupKey(r), r);
      return (baselines = [...groups.values()].map((g) => ({
        context: g[0].context, verb: g[0].verb, group: g[0].group, resource: g[0].resource, subresource: g[0].subresource,
        count: g.length, p50Ms: p50(g.map((r) => r.durationMs).sort((a, b) => a - b)),
      })));
    },
    slowerThan: (b: Baseline, ms: number) => rows.filter((r) => groupKey(r) === groupKey(b) && r.durationMs > ms),
    listsAndWatches() {
      const collections: ListsAndWatches["collections"] = [];
      const index = new Map<string, number>();
      const reads = new CollectionReadsBuilder();
      for (const r of rows) {
        if ((r.verb !== "list" && r.verb !== "watch") || r.subresource) continue;
        const key = [r.context, r.group, r.resource, r.namespace].join("\u0000");
        let of = index.get(key);
        if (of === undefined) {
          of = collections.push({ context: r.context, group: r.group, resource: r.resource, namespace: r.namespace }) - 1;
          index.set(key, of);
        }
        reads.push(r.id, r.startedAt, r.durationMs, r.verb === "watch", of);
      }
      return { collections, reads: reads.done() };
    },
    failures(minRepeats: number) {
      const failed = rows.filter((r) => r.status === null || r.status >= 400);
      const n = new Map<string, number>();
      const key = (r: ExchangeSummary) => [r.context, r.method, r.path, r.query].join("\u0000");
      for (const r of failed) n.set(key(r), (n.get(key(r)) ?? 0) + 1);
      return failed.filter((r) => (n.get(key(r)) ?? 0) >= minRepeats);
    },
    retryHeaders(ids: number[]) {
      const asked = new Set(ids);
      return new Map(sorted.flatMap((ex, i) => (asked.has(rows[i].id) ? [[rows[i].id, retryHeadersOf(ex)] as const] : [])));
    },
    chains() {
      const uses = new Map<string, ChainUse & { n: number }>();
      sorted.forEach((ex, i) => {
        const chain = ex.tls?.chain;
        if (!chain || chain.length === 0) return;
        const fp = chain.map((c) => c.sha256).join(",");
        const id = rows[i].id;
        const use = uses.get(fp);
        if (!use) {
          const fresh: ChainUse & { n: number } = { chain, context: ex.context, n: 1, count: () => fresh.n, firstSeen: ex.startedAt, lastSeen: ex.startedAt, ids: [id] };
          uses.set(fp, fresh);
        } else {
          use.n++;
          use.lastSeen = Math.max(use.lastSeen, ex.startedAt);
          use.context = ex.context;
          if (use.ids.length < MAX_IDS) use.ids.push(id);
        }
      });
      return [...uses.values()];
    },
  };
}
