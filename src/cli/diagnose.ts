// The scalable diagnosis behind `kubewire flags`: per-exchange kinds come from the flags stored
// while recording (counts and times in SQL, a sample explained), whole-set rules read narrow rows.
import { exchangeRules, setRules, sortFindings } from "../analyze/lib/engine.js";
import type { AnalyzeContext } from "../analyze/lib/rule.js";
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
  for (const rule of exchangeRules) {
    const s = summary.get(rule.kind);
    if (!s || !wanted(rule.kind)) continue;
    const sample = [...store.iterate({ ids: s.ids })];
    if (sample.length === 0) continue;
    const f = rule.explain(sample, ctx);
    findings.push({ ...f, count: s.count, firstSeen: new Date(s.first).toISOString(), lastSeen: new Date(s.last).toISOString(), requestIds: s.ids });
  }
  const setFlags = new Map<string, number[]>();
  const active = setRules.filter((r) => wanted(r.kind));
  let examined = 0;
  if (active.length > 0) {
    const rows = store.summaries(rowFilter);
    examined = rows.length;
    const chainIds = new Set<number>();
    for (const r of rows) if (r.tlsChainId !== null) chainIds.add(r.tlsChainId);
    const chains = store.chains(chainIds);
    for (const rule of active) {
      const result = rule.analyze({ rows, chains }, ctx);
      setFlags.set(rule.kind, result?.flagIds ?? []);
      if (result) findings.push(result.finding);
    }
  } else examined = store.count(rowFilter);
  return { findings: sortFindings(findings), setFlags, examined };
}
