// What a doctor step is: a numbered, named function from the shared context to checks,
// which may declare later steps pointless; plus the report shape and small helpers.
import type { CheckResult, CheckStatus } from "../../types.js";
import type { LoadedKubeconfig } from "../../kubeconfig/load.js";
import type { Upstream } from "../../kubeconfig/upstream.js";
import type { ProxyClient } from "./proxy-client.js";
import { age } from "../../format/output.js";

export interface DoctorOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** extra SelfSubjectAccessReviews: [verb, resource] */
  can: Array<[string, string]>;
  /** per network operation (DNS, connect, TLS, HTTP) and for an exec plugin */
  timeoutMs: number;
  inCluster: boolean;
  db?: string;
  stateDir?: string;
  env: NodeJS.ProcessEnv;
  /** where InClusterConfig reads the service account (overridable for tests) */
  serviceAccountDir: string;
  warn: (line: string) => void;
  /** called as each step ends (skipped ones too), with the context chosen so far, so a terminal sees progress */
  onStep?: (step: StepReport, context: string | null) => void;
}

/** What the steps learn and pass on. */
export interface DoctorContext {
  opts: DoctorOptions;
  files: string[];
  /** parsed files, in merge order, with paths made absolute */
  configs: Array<{ file: string; raw: Record<string, any> }>;
  loaded?: LoadedKubeconfig;
  upstream?: Upstream;
  /** the chosen context's cluster and user entries as written */
  cluster?: Record<string, any>;
  user?: Record<string, any>;
  /** server host and port, once known */
  server?: URL;
  /** the user's client certificate (PEM), once step 1 has read and parsed it */
  clientCertPem?: string;
  /** why credentials may be rejected, found before asking the server (expired token, certificate, ...) */
  expiredCredential?: string;
  /** the proxy run that steps 5-7 go through */
  client?: ProxyClient;
  /** who the server says we are (step 6) */
  username?: string;
  namespace: string;
}

export interface StepOutcome {
  checks: CheckResult[];
  /** later step numbers this outcome makes pointless, and why */
  blocks?: number[];
}

export interface Step {
  number: number;
  name: string;
  /** true when the step should appear at all (in-cluster only inside a Pod or when asked) */
  applies?: (ctx: DoctorContext) => boolean;
  /** steps 5-7 go through the recording proxy */
  needsProxy?: boolean;
  run(ctx: DoctorContext): Promise<StepOutcome>;
}

export interface StepReport {
  step: number;
  name: string;
  status: CheckStatus;
  durationMs: number;
  checks: CheckResult[];
}

/** What `doctor -o json` prints and what is kept under meta "doctor:last". */
export interface DoctorReport {
  ok: boolean;
  context: string | null;
  startedAt: string;
  durationMs: number;
  steps: StepReport[];
}

export { fail, pass, skip, warn } from "./check.js";

const RANK: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

/** The step's status: its worst check; skip only when every check was skipped. */
export function worst(checks: CheckResult[]): CheckStatus {
  if (checks.length === 0) return "skip";
  return checks.reduce<CheckStatus>((w, c) => (RANK[c.status] > RANK[w] ? c.status : w), "skip");
}

export function errorText(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split("\n")[0];
}

/** Human time to or since an instant, in kubectl's style: "in 3h12m", "2d ago". */
export function relative(ms: number, now = Date.now()): string {
  return ms >= now ? `in ${age(ms - now)}` : `${age(now - ms)} ago`;
}
