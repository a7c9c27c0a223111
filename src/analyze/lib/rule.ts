// What a rule is: a kind, a severity, a help line and either a cheap per-exchange match with
// an explanation of the matching group, or a whole-set pass (slow, retry-storm, expiring-credentials).
import type { CertInfo, Exchange, Finding, Severity } from "../../types.js";
import type { CollectionReads, ExchangeSummaryRow, GroupKey, ListsAndWatches, RetryHeaders } from "../../store/store.js";

export type { CollectionReads, ListsAndWatches, RetryHeaders };

/** What the recorded rows cannot say about a context's credentials (tokens are redacted there): read from the kubeconfig. */
export interface CredentialFacts {
  context: string;
  user: string;
  kind: "token" | "client-certificate" | "exec" | "auth-provider" | "basic" | "none";
  /** claims of a JWT bearer token (never the token itself) */
  jwt?: { iss?: string; sub?: string; exp?: number };
  /** a token that is not a JWT */
  opaqueToken?: boolean;
  cert?: { subject: string; notAfter: string };
  execCommand?: string;
  /** the kubeconfig file the facts came from */
  source: string;
}

export interface AnalyzeContext {
  /** epoch ms taken as "now" for expiry checks (pinned in tests) */
  now: number;
  /** credentials by context name; contexts missing here could not be checked */
  credentials: Map<string, CredentialFacts>;
  /** which kubeconfig the credentials were read from ("~/.kube/config", "none found: ..."), for messages about a missing context */
  kubeconfigRead?: string;
  /** when explain is given a sample: how many exchanges the kind has in all (messages count these) */
  groupSize?: number;
}

/** A rule that decides per exchange (pure and cheap: it runs for every recorded exchange). */
export interface ExchangeRule {
  kind: string;
  severity: Severity;
  help: string;
  match(ex: Exchange): boolean;
  /** The finding for a group of matching exchanges, oldest first (possibly a sample of them: count and times are then set by the caller). */
  explain(group: Exchange[], ctx: AnalyzeContext): Finding;
}

/** The narrow columns of one exchange: what whole-set rules read for a million rows (the store's shape). */
export type ExchangeSummary = ExchangeSummaryRow;

/** One verb+resource in one context, and its usual latency. */
export interface Baseline extends GroupKey {
  count: number;
  p50Ms: number;
}

/** One upstream certificate chain and the recorded exchanges that were served with it. */
export interface ChainUse {
  chain: CertInfo[];
  /** the context of its latest use */
  context: string;
  /** how many exchanges used it (a function: counting is the costly part, asked only for chains that matter) */
  count(): number;
  /** epoch ms */
  firstSeen: number;
  lastSeen: number;
  /** the lowest ids, at most MAX_IDS */
  ids: number[];
}

/**
 * What whole-set rules read, as questions rather than rows, so a million exchanges can be
 * answered from indexes (the store) or from memory (tests) alike. Every answer is oldest first; baselines are
 * asked by several rules, so a source computes them once.
 */
export interface SetSource {
  baselines(): Baseline[];
  /** exchanges of the baseline's group that took longer than ms */
  slowerThan(b: Baseline, ms: number): ExchangeSummary[];
  /** every list and watch of a whole collection (no subresource), each collection named once */
  listsAndWatches(): ListsAndWatches;
  /** failed exchanges (a status of 400 or more, or no response) of requests (context, method, path, query) that failed at least minRepeats times */
  failures(minRepeats: number): ExchangeSummary[];
  /** the Kubectl-Session and Retry-After headers of these exchanges, by id (costly per exchange: ask for few) */
  retryHeaders(ids: number[]): Map<number, RetryHeaders>;
  chains(): ChainUse[];
}

export interface SetResult {
  finding: Finding;
  /** the exchanges to flag with this kind (may be fewer than count for recording-wide findings) */
  flagIds: number[];
}

/** A rule that needs the whole set (a latency baseline, a sequence of retries, the distinct certificates). */
export interface SetRule {
  kind: string;
  severity: Severity;
  help: string;
  analyze(source: SetSource, ctx: AnalyzeContext): SetResult | null;
}

export type Rule = ExchangeRule | SetRule;

export function isExchangeRule(rule: Rule): rule is ExchangeRule {
  return "match" in rule;
}
