// The doctor's steps in the order they run and print: adding a check is one file plus one
// line here. runDoctor walks them, skips what an earlier failure makes pointless, records steps 5-7.
import { Store } from "../store/store.js";
import { startSession, type RecordingSession } from "../session/recording-session.js";
import { defaultDbPath } from "../session/db-path.js";
import { stateDirPath } from "../tls/state-dir.js";
import { kubeconfigStructure } from "./kubeconfig-structure.js";
import { credentials } from "./credentials.js";
import { network } from "./network.js";
import { tlsHandshake } from "./tls-handshake.js";
import { apiHealth } from "./api-health.js";
import { authentication } from "./authentication.js";
import { authorization } from "./authorization.js";
import { inCluster } from "./in-cluster.js";
import { ProxyClient } from "./lib/proxy-client.js";
import { errorText, fail, skip, worst, type DoctorContext, type DoctorOptions, type DoctorReport, type Step, type StepReport } from "./lib/step.js";

export const steps: Step[] = [
  kubeconfigStructure,
  credentials,
  network,
  tlsHandshake,
  apiHealth,
  authentication,
  authorization,
  inCluster,
];

export type { DoctorOptions, DoctorReport, StepReport } from "./lib/step.js";

/** The meta key under which the last report is kept in the recording database. */
const REPORT_META_KEY = "doctor:last";

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const started = Date.now();
  const t0 = performance.now();
  const ctx: DoctorContext = { opts, files: [], configs: [], namespace: opts.namespace || "default" };
  const blockedBy = new Map<number, Step>();
  const reports: StepReport[] = [];
  let session: RecordingSession | undefined;
  let sessionError: string | undefined;
  try {
    for (const step of steps) {
      if (step.applies && !step.applies(ctx)) continue;
      const s0 = performance.now();
      const by = blockedBy.get(step.number);
      if (by) {
        reports.push({ step: step.number, name: step.name, status: "skip", durationMs: 0, checks: [skip(step.name, `skipped: step ${by.number} (${by.name}) failed`)] });
        opts.onStep?.(reports[reports.length - 1], ctx.loaded?.contextName ?? (opts.context || null));
        continue;
      }
      if (step.needsProxy && !ctx.client && !sessionError) {
        try {
          session = await startSession({
            kubeconfig: opts.kubeconfig,
            context: ctx.loaded?.contextName,
            listen: { host: "127.0.0.1", port: 0 },
            db: opts.db,
            stateDir: opts.stateDir,
            ephemeralKubeconfig: true,
            origin: "doctor",
            connectTimeoutMs: opts.timeoutMs,
            headersTimeoutMs: opts.timeoutMs,
            warn: opts.warn,
          });
          ctx.client = new ProxyClient(session.client, opts.timeoutMs + 1000);
        } catch (err) {
          sessionError = errorText(err);
        }
      }
      let outcome;
      if (step.needsProxy && !ctx.client) {
        outcome = { checks: [fail("proxy", `cannot start the recording proxy: ${sessionError}`, "see the message; --state-dir or --db may point somewhere unwritable")] };
      } else {
        try {
          outcome = await step.run(ctx);
        } catch (err) {
          outcome = { checks: [fail("internal", `the check itself failed: ${errorText(err)}`, "this is a bug in kubewire's doctor; please report it")] };
        }
      }
      for (const n of outcome.blocks ?? []) if (!blockedBy.has(n)) blockedBy.set(n, step);
      reports.push({ step: step.number, name: step.name, status: worst(outcome.checks), durationMs: Math.round(performance.now() - s0), checks: outcome.checks });
      opts.onStep?.(reports[reports.length - 1], ctx.loaded?.contextName ?? (opts.context || null));
    }
  } finally {
    ctx.client?.close();
    if (session) await session.stop(200);
  }
  const report: DoctorReport = {
    ok: !reports.some((r) => r.status === "fail"),
    context: ctx.loaded?.contextName ?? (opts.context || null),
    startedAt: new Date(started).toISOString(),
    durationMs: Math.round(performance.now() - t0),
    steps: reports,
  };
  saveReport(report, session?.dbPath ?? defaultDbPath(stateDirPath(opts.stateDir), opts.db), opts.warn);
  return report;
}

/** Keeps the report beside the recorded exchanges (meta "doctor:last") so later commands can show it. */
function saveReport(report: DoctorReport, dbPath: string, warnLine: (l: string) => void): void {
  try {
    const store = Store.open(dbPath);
    try {
      store.setMeta(REPORT_META_KEY, JSON.stringify(report));
    } finally {
      store.close();
    }
  } catch (err) {
    warnLine(`kubewire: warning: could not save the doctor report in ${dbPath}: ${errorText(err)}`);
  }
}
