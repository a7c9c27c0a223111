// `kubewire demo`: a simulated cluster, kubewire in front of it, a scripted session with
// good and failing requests, and what was recorded: the whole tool in a minute.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Store } from "../../store/store.js";
import { ensureStateDir, stateDirPath } from "../../tls/state-dir.js";
import { paint } from "../../format/output.js";
import type { RecordingSession } from "../../session/recording-session.js";
import { renderRows } from "./ls.js";

export function makeDemoCommand(): Command {
  return new Command("demo")
    .description("Try kubewire on a built-in simulated cluster: record a scripted session and show it")
    .option("--db <path>", "where to record the demo (default: STATE_DIR/demo.db, replaced each run)")
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .option("--keep-running", "leave the cluster and proxy running until Ctrl-C, to try kubectl against them")
    .addHelpText(
      "after",
      `
Examples:
  npx kubewire demo
  npx kubewire demo --keep-running     # then use the printed KUBECONFIG with kubectl`,
    )
    .action(async (opts) => {
      // the cluster and the proxy load @kubernetes/client-node: only when the command runs
      const { startDemoCluster } = await import("../../demo/cluster.js");
      const { writeDemoKubeconfig } = await import("../../demo/kubeconfig.js");
      const { runDemoScript } = await import("../../demo/session-script.js");
      const { Recorder } = await import("../../record/recorder.js");
      const { startSession } = await import("../../session/recording-session.js");
      const out = process.stdout;
      const p = paint(out);
      const stateDir = ensureStateDir(stateDirPath(opts.stateDir));
      const dbPath = opts.db ?? join(stateDir, "demo.db");
      for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}.spill.jsonl`]) rmSync(f, { force: true });
      const work = mkdtempSync(join(tmpdir(), "kubewire-demo-"));
      out.write(p.bold("kubewire demo") + ": starting a simulated Kubernetes API server...\n");
      const cluster = await startDemoCluster({ slowMs: 1200 });
      const sessions: RecordingSession[] = [];
      const { flagsOf } = await import("../../analyze/lib/engine.js");
      const recorder = new Recorder({ dbPath, flagsOf });
      recorder.open();
      try {
        const demoKubeconfig = join(work, "demo.kubeconfig");
        writeDemoKubeconfig(cluster, demoKubeconfig);
        const proxy = async (context: string) => {
          const s = await startSession({
            kubeconfig: demoKubeconfig,
            context,
            listen: { host: "127.0.0.1", port: 0 },
            stateDir,
            db: dbPath,
            recorder,
            writeKubeconfig: join(work, `${context}.kubeconfig`),
            headersTimeoutMs: 10_000,
            warn: () => undefined,
          });
          sessions.push(s);
          return s.kubeconfigPath;
        };
        const admin = await proxy("demo-admin");
        out.write(`cluster ${cluster.url}, kubewire recording at ${sessions[0].proxy.url} into ${dbPath}\n\n`);
        const steps = await runDemoScript({ admin, viewer: await proxy("demo-viewer"), badToken: await proxy("demo-bad-token"), expiredCert: await proxy("demo-expired-cert") });
        for (const s of steps) out.write(`  ${s.ok ? p.green("✓") : p.red("✗")} ${s.title.padEnd(50)} ${p.dim(s.outcome)}\n`);
        await recorder.flush();
        const store = Store.open(dbPath, { readonly: true });
        try {
          out.write(`\n${p.bold("What kubewire recorded")} (npx kubewire ls --db ${dbPath}):\n\n`);
          out.write(renderRows(store.list({}), "table", false, p));
        } finally {
          store.close();
        }
        // npx: after `npm install` in a clone, kubewire is not on PATH; --db: the demo keeps its own recording
        const next: Array<[string, string]> = [
          [`npx kubewire flags --db ${dbPath}`, "what is wrong, and what to do about it"],
          [`npx kubewire show ID --db ${dbPath}`, "everything about one exchange"],
          [`npx kubewire ls --status 4xx --db ${dbPath}`, "the failed requests"],
          opts.keepRunning
            ? [`npx kubewire replay --failed --context demo-admin --db ${dbPath} --kubeconfig ${demoKubeconfig}`, "send the failures again as the admin"]
            : ["npx kubewire demo --keep-running", "keep the cluster up to try kubectl, doctor and replay"],
        ];
        const width = Math.max(...next.map(([c]) => c.length));
        out.write(`\nNext (this demo's recording is ${dbPath}):\n${next.map(([c, why]) => `  ${c.padEnd(width)}   ${why}\n`).join("")}`);
        if (opts.keepRunning) {
          out.write(`\nStill running. Try:  KUBECONFIG=${admin} kubectl get pods     (Ctrl-C to stop)\n`);
          await new Promise<void>((resolve) => {
            process.once("SIGINT", () => resolve());
            process.once("SIGTERM", () => resolve());
          });
        }
      } finally {
        for (const s of sessions) await s.stop(200);
        await recorder.close();
        await cluster.close();
        rmSync(work, { recursive: true, force: true });
      }
    });
}
