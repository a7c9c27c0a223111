// `kubewire demo`: a simulated cluster, kubewire in front of it, a scripted session with
// good and failing requests, and what was recorded: the whole tool in a minute. With --keep-running
// both stay up for kubectl; with --cluster-only the simulated cluster runs alone, for your own program.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { DEMO_CONTEXTS } from "../../demo/contexts.js";
import { FAILURE_NAMESPACES } from "../../demo/failure-namespaces.js";
import { UserError } from "../../errors.js";
import { Store } from "../../store/store.js";
import { defaultDbPath } from "../../session/db-path.js";
import { ensureStateDir, stateDirPath } from "../../tls/state-dir.js";
import { paint, type Paint } from "../../format/output.js";
import type { RecordingSession } from "../../session/recording-session.js";
import { renderRows } from "./ls.js";
import { actionOf, lineTo, type CommandSteps, type Sink } from "../command-shape.js";

export interface DemoOptions {
  db?: string;
  /** the state directory, resolved (created when the demo runs) */
  stateDir: string;
  keepRunning: boolean;
  clusterOnly: boolean;
}

// Where a running demo's kubeconfigs live: in the state directory, at the same path every run, so a second
// terminal's `export KUBECONFIG=...` keeps working from one run to the next; removed when the demo stops, as
// kind and minikube remove a deleted cluster's context: the cluster's ports and tokens end with it, and a
// kubeconfig left behind would only give "connection refused".
/** the simulated cluster, reached directly (every context of DEMO_CONTEXTS) */
const CLUSTER_KUBECONFIG = "demo-cluster.kubeconfig";
/** the same contexts, each through kubewire (--keep-running) */
const PROXY_KUBECONFIG = "demo.kubeconfig";

export function makeDemoCommand(): Command {
  return new Command("demo")
    .description("Try kubewire on a built-in simulated cluster: record a scripted session and show it")
    .option("--db <path>", "where to record the demo (default: STATE_DIR/demo.db, replaced each run)")
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .option("--keep-running", "leave the cluster and kubewire running until Ctrl-C, with a kubeconfig of every demo context through kubewire")
    .option("--cluster-only", "run only the simulated cluster until Ctrl-C (nothing recorded): point your own program at the kubeconfig it prints, then run it through kubewire start")
    .addHelpText(
      "after",
      `
Examples:
  npx kubewire demo
  npx kubewire demo --keep-running     # then: export KUBECONFIG=<the printed kubeconfig>; kubectl get pods
  npx kubewire demo --cluster-only     # the simulated cluster alone, for your own program`,
    )
    .action(actionOf(demoSteps));
}

export const demoSteps: CommandSteps<DemoOptions> = {
  complete({ opts }, env) {
    return { db: opts.db, stateDir: stateDirPath(opts.stateDir, env), keepRunning: !!opts.keepRunning, clusterOnly: !!opts.clusterOnly };
  },
  validate(o) {
    if (o.clusterOnly && o.keepRunning) throw new UserError("--cluster-only runs until Ctrl-C already", "drop --keep-running");
    if (o.clusterOnly && o.db) throw new UserError("--cluster-only records nothing, so it takes no --db", "drop --db, or drop --cluster-only to record the scripted demo");
  },
  async run(o, { out, err }) {
    const stateDir = ensureStateDir(o.stateDir, lineTo(err));
    if (o.clusterOnly) await runClusterOnly(stateDir, out);
    else await runDemo(o, stateDir, out);
  },
};

/** Resolves on the first SIGINT or SIGTERM. */
function untilStopped(): Promise<void> {
  return new Promise<void>((done) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Removes a kubeconfig this run wrote, unless another demo has written its own there since. */
function removeIfOurs(path: string, written: string): void {
  try {
    if (readFileSync(path, "utf8") === written) rmSync(path, { force: true });
  } catch {
    /* already gone */
  }
}

/** The demo's contexts and failure namespaces, each with what it shows (from the tables the cluster is built from). */
function guide(p: Paint, via: string): string {
  const ctxWidth = Math.max(...DEMO_CONTEXTS.map((c) => c.name.length));
  const nsWidth = Math.max(...FAILURE_NAMESPACES.map((f) => f.namespace.length));
  return (
    `\n${p.bold("Contexts")} of the demo kubeconfig (kubectl --context NAME, ${via}):\n` +
    DEMO_CONTEXTS.map((c) => `  ${c.name.padEnd(ctxWidth)}   ${c.shows}\n`).join("") +
    `\n${p.bold("Failure namespaces")} (kubectl get pods -n NAME, as demo-admin):\n` +
    FAILURE_NAMESPACES.map((f) => `  ${f.namespace.padEnd(nsWidth)}   ${f.shows}\n`).join("")
  );
}

function nextSteps(title: string, next: Array<[string, string]>): string {
  const width = Math.max(...next.map(([c]) => c.length));
  return `\n${title}\n${next.map(([c, why]) => `  ${c.padEnd(width)}   ${why}\n`).join("")}`;
}

async function runClusterOnly(stateDir: string, out: Sink): Promise<void> {
  const { startDemoCluster } = await import("../../demo/cluster.js");
  const { writeDemoKubeconfig } = await import("../../demo/kubeconfig.js");
  const p = paint(out);
  const kubeconfig = resolve(stateDir, CLUSTER_KUBECONFIG);
  const db = defaultDbPath(stateDir);
  const cluster = await startDemoCluster({ slowMs: 1200 });
  try {
    writeDemoKubeconfig(cluster, kubeconfig);
    const written = readFileSync(kubeconfig, "utf8");
    try {
      out.write(`${p.bold("kubewire demo")}: a simulated Kubernetes API server at ${cluster.url}, nothing in front of it, nothing recorded\n`);
      out.write(`kubeconfig: ${kubeconfig}\n`);
      out.write(p.dim("  (removed when this stops: the cluster's ports and tokens end with it)\n"));
      out.write(guide(p, "straight to the cluster"));
      out.write(
        nextSteps("Next, in another terminal:", [
          [`KUBECONFIG=${kubeconfig} kubectl get pods`, "kubectl (or your own program) straight to the cluster"],
          [`npx kubewire start --kubeconfig ${kubeconfig} --db ${db}`, "then through kubewire: point the program at the kubeconfig it prints"],
          [`npx kubewire exec --kubeconfig ${kubeconfig} --db ${db} -- kubectl get pods -n broken`, "or one command through kubewire"],
          [`npx kubewire flags --db ${db}`, "what went wrong in what kubewire recorded"],
        ]),
      );
      out.write(`\nServing until Ctrl-C.\n`);
      await untilStopped();
    } finally {
      removeIfOurs(kubeconfig, written);
    }
  } finally {
    await cluster.close();
  }
}

async function runDemo(opts: DemoOptions, stateDir: string, out: Sink): Promise<void> {
  // the cluster and the proxy load @kubernetes/client-node: only when the command runs
  const { startDemoCluster } = await import("../../demo/cluster.js");
  const { writeDemoKubeconfig } = await import("../../demo/kubeconfig.js");
  const { runDemoScript } = await import("../../demo/session-script.js");
  const { Recorder } = await import("../../record/recorder.js");
  const { startSession } = await import("../../session/recording-session.js");
  const p = paint(out);
  const dbPath = resolve(opts.db ?? join(stateDir, "demo.db"));
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}.spill.jsonl`]) rmSync(f, { force: true });
  const work = mkdtempSync(join(tmpdir(), "kubewire-demo-"));
  out.write(p.bold("kubewire demo") + ": starting a simulated Kubernetes API server...\n");
  const cluster = await startDemoCluster({ slowMs: 1200 });
  const sessions: RecordingSession[] = [];
  const kept: Array<[string, string]> = []; // kubeconfigs in the state directory, with what this run wrote there
  const { flagsOf } = await import("../../analyze/lib/engine.js");
  const recorder = new Recorder({ dbPath, flagsOf });
  recorder.open();
  try {
    // --keep-running: the kubeconfigs outlive the scripted session, so they go where a person can find them again
    const demoKubeconfig = opts.keepRunning ? resolve(stateDir, CLUSTER_KUBECONFIG) : join(work, "demo.kubeconfig");
    writeDemoKubeconfig(cluster, demoKubeconfig);
    if (opts.keepRunning) kept.push([demoKubeconfig, readFileSync(demoKubeconfig, "utf8")]);
    const proxy = async (context: string, whole = false) => {
      const s = await startSession({
        kubeconfig: demoKubeconfig,
        context,
        listen: { host: "127.0.0.1", port: 0 },
        stateDir,
        db: dbPath,
        recorder,
        // whole: every context of the demo kubeconfig gets its own listener, in one kubeconfig
        wholeKubeconfig: whole,
        writeKubeconfig: whole ? resolve(stateDir, PROXY_KUBECONFIG) : join(work, `${context}.kubeconfig`),
        headersTimeoutMs: 10_000,
        warn: () => undefined,
      });
      sessions.push(s);
      if (whole) kept.push([s.kubeconfigPath, readFileSync(s.kubeconfigPath, "utf8")]);
      return s.kubeconfigPath;
    };
    const admin = await proxy("demo-admin", !!opts.keepRunning);
    out.write(`cluster ${cluster.url}, kubewire recording at ${sessions[0].proxy.url} into ${dbPath}\n\n`);
    const steps = await runDemoScript({ admin, viewer: await proxy("demo-viewer"), badToken: await proxy("demo-bad-token"), expiredCert: await proxy("demo-expired-cert") });
    for (const s of steps) out.write(`  ${s.ok ? p.green("✓") : p.red("✗")} ${s.title.padEnd(50)} ${p.dim(s.outcome)}\n`);
    await recorder.flush();
    const store = Store.open(dbPath, { readonly: true });
    try {
      out.write(`\n${p.bold("What kubewire recorded")} (npx kubewire ls --db ${dbPath}):\n\n`);
      out.write(renderRows(store.list({}), "table", false, p, { out }));
    } finally {
      store.close();
    }
    out.write(guide(p, opts.keepRunning ? "through kubewire, with the kubeconfig below" : "once the demo runs with --keep-running or --cluster-only"));
    // npx: after `npm install` in a clone, kubewire is not on PATH; --db: the demo keeps its own recording
    out.write(
      nextSteps(`Next (this demo's recording is ${dbPath}):`, [
        [`npx kubewire flags --db ${dbPath}`, "what is wrong, and what to do about it"],
        [`npx kubewire show ID --db ${dbPath}`, "everything about one exchange"],
        [`npx kubewire ls --status 4xx --db ${dbPath}`, "the failed requests"],
        opts.keepRunning
          ? [`npx kubewire replay --failed --context demo-admin --db ${dbPath} --kubeconfig ${demoKubeconfig}`, "send the failures again as the admin"]
          : ["npx kubewire demo --keep-running", "keep the cluster up to try kubectl, doctor and replay"],
        ...(opts.keepRunning ? [] : [["npx kubewire demo --cluster-only", "the simulated cluster alone, for your own program"] as [string, string]]),
      ]),
    );
    if (opts.keepRunning) {
      out.write(`\nStill running: the simulated cluster, and kubewire in front of it recording into ${dbPath}.\n`);
      out.write(`kubeconfig: ${admin}\n`);
      out.write(p.dim(`  (every demo context, through kubewire; removed when the demo stops, with the cluster's ports and tokens)\n`));
      out.write(`  export KUBECONFIG=${admin}\n  kubectl get pods\n  kubectl --context demo-expired-cert get pods\n  kubectl get pods -n broken\n`);
      out.write(`\nRunning until Ctrl-C.\n`);
      await untilStopped();
    }
  } finally {
    for (const s of sessions) await s.stop(200);
    await recorder.close();
    await cluster.close();
    for (const [path, written] of kept) removeIfOurs(path, written);
    rmSync(work, { recursive: true, force: true });
  }
}
