// The scalable diagnosis behind `kubewire flags`: per-exchange kinds come from the flags stored
// while recording (counts and times in SQL, a sample explained), whole-set rules read narrow rows.
import { exchangeRules, setRules, sortFindings } from "../analyze/lib/engine.js";
import type { AnalyzeContext, Baseline, SetSource } from "../analyze/lib/rule.js";
import { MAX_IDS } from "../analyze/lib/util.js";
import { readsWithout } from "../store/collection-reads.js";
import type { ListFilter, Store } from "../store/store.js";
import type { Finding } from "../types.js";

/** How many exchanges of one kind are read in full to explain it. */
const SAMPLE = 50;

export interface Diagnosis {
  findings: Finding[];
  /** the exchanges each whole-set kind implicates, to store as row flags */
  setFlags: Map<string, number[]>;
  /** exchanges looked at */
  examined: number;
}

export function diagnose(store: Store, filter: ListFilter, ctx: AnalyzeContext, kinds?: string[]): Diagnosis {
  const rowFilter: ListFilter = { ...filter, flag: undefined };
  const wanted = (kind: string) => !kinds || kinds.includes(kind);
  const findings: Finding[] = [];
  const summary = new Map(store.flagSummary(rowFilter, SAMPLE).map((s) => [s.kind, s]));
  // several runs, machines or pods in one store: each finding says which of them it was seen at
  const bySource = store.severalSources() ? store.flagSources(rowFilter) : null;
  for (const rule of exchangeRules) {
    const s = summary.get(rule.kind);
    if (!s || !wanted(rule.kind)) continue;
    const sample = [...store.iterate({ ids: s.ids })];
    if (sample.length === 0) continue;
    const f = rule.explain(sample, { ...ctx, groupSize: s.count });
    findings.push({
      ...f, count: s.count, firstSeen: new Date(s.first).toISOString(), lastSeen: new Date(s.last).toISOString(), requestIds: s.ids,
      ...(bySource ? { sources: bySource.get(rule.kind) ?? [] } : {}),
    });
  }
  const setFlags = new Map<string, number[]>();
  const active = setRules.filter((r) => wanted(r.kind));
  const source = storeSource(store, rowFilter);
  if (active.length > 0) {
    for (const rule of active) {
      const result = rule.analyze(source, ctx);
      setFlags.set(rule.kind, result?.flagIds ?? []);
      if (result) findings.push(bySource ? { ...result.finding, sources: store.sourcesOf(result.flagIds.length ? result.flagIds : result.finding.requestIds) } : result.finding);
    }
  }
  return { findings: sortFindings(findings), setFlags, examined: source.examined() };
}

/** The whole-set rules' questions, answered from the store's indexes (see Store.groupMedians, failures, chainUses). */
function storeSource(store: Store, filter: ListFilter): SetSource & { examined(): number } {
  // fault: what kubewire injected on purpose is neither slow nor a retry storm of the API server's making
  let injectedIds: Set<number> | undefined; // asked for by the first rule that reads rows
  const injected = () => (injectedIds ??= new Set(store.list({ ...filter, flag: "injected" }).map((r) => r.id)));
  const real = <T extends { id: number }>(rows: T[]) => (injected().size ? rows.filter((r) => !injected().has(r.id)) : rows);
  let baselines: Baseline[] | undefined; // slow and relist-storm both ask: one pass over exchanges_latency (counts, no sums)
  return {
    baselines: () => (baselines ??= store.groupMedians(filter)),
    slowerThan: (b: Baseline, ms: number) => real(store.slowerThan(filter, b, ms)), // fault:
    listsAndWatches: () => {
      const all = store.listsAndWatches(filter);
      return injected().size ? { ...all, reads: readsWithout(all.reads, injected()) } : all; // fault:
    },
    failures: (minRepeats: number) => real(store.failures(filter, minRepeats)), // fault:
    retryHeaders: (ids: number[]) => store.retryHeaders(ids),
    chains: () => store.chainUses(filter, MAX_IDS),
    // the exchanges looked at: every one is in one baseline group, so their counts add up to it when a rule asked for them
    examined: () => (baselines ? baselines.reduce((n, b) => n + b.count, 0) : store.count(filter)),
  };
}
