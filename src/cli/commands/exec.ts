// `kubewire exec -- CMD`: runs CMD with KUBECONFIG pointed at a fresh proxy and exits
// with CMD's exit code once every record is flushed.
import { spawn } from "node:child_process";
import { Command } from "commander";
import { UserError } from "../../errors.js";
import { addSessionOptions, addUiOption, sessionOptionsFrom } from "../session-options.js"; // ui: addUiOption
import type { RecordingSession } from "../../session/recording-session.js";
import type { SessionOptions } from "../../session/prepare.js";
import { actionOf, lineTo, type CommandSteps } from "../command-shape.js";

/**
 * A command that ends within this long has its exchanges written when it ends, so the writer thread
 * never starts (about a third of a short run's CPU); a longer one is recorded in batches as by `start`.
 * Nothing waits in memory only: each exchange is journaled as it is recorded.
 */
const DEFER_WRITES_MS = 2000;

export function makeExecCommand(): Command {
  const cmd = new Command("exec")
    .description("Run a command with its Kubernetes traffic recorded through a temporary proxy")
    .argument("<command...>", "the command to run, after --")
    .option("-q, --quiet", "print nothing of kubewire's own unless something goes wrong")
    .addHelpText(
      "after",
      `
Examples:
  kubewire exec -- kubectl get pods
  kubewire exec --context staging -- go run ./mycontroller
  kubectl wire exec -- kubectl auth can-i list pods
  kubewire exec --fault verb=list,resource=pods,status=429,retryAfter=1,times=3 -- kubectl get pods`,
    );
  addUiOption(addSessionOptions(cmd, null)).action(actionOf(execSteps)); // ui: addUiOption
  return cmd;
}

export interface ExecOptions {
  argv: string[];
  /** the recording session's options; its warn is the err stream, set by run */
  session: SessionOptions;
  quiet: boolean;
  ui: boolean; // ui:
  env: NodeJS.ProcessEnv;
}

export const execSteps: CommandSteps<ExecOptions> = {
  complete({ args, opts }, env) {
    return { argv: args[0] as string[], session: sessionOptionsFrom(opts, () => {}), quiet: !!opts.quiet, ui: !!opts.ui, env };
  },
  validate() {},
  async run(o, { err }) {
    const warn = lineTo(err);
    const { argv } = o;
    // The ports are bound and the kubeconfig written first, and CMD starts at once: the proxy and the
    // database load while it starts up (its first connections wait on the bound ports meanwhile).
    const { prepareSession } = await import("../../session/prepare.js");
    // ui: the web view shows exchanges as they are written, so they are not held back
    const prepared = await prepareSession({ ...o.session, warn, ephemeralKubeconfig: true, deferWritesMs: o.ui ? 0 : DEFER_WRITES_MS, checkDb: false, preconnect: true });
    const since = Date.now();
    // CMD's own output is its own: it inherits the terminal, not kubewire's out/err
    const child = runCommand(argv, { ...o.env, KUBECONFIG: prepared.kubeconfigPath });
    let session: RecordingSession;
    try {
      session = await (await import("../../session/recording-session.js")).startPrepared(prepared);
    } catch (error) {
      child.stop();
      await child.exited.catch(() => undefined);
      throw error;
    }
    if (session.extras?.metricsUrl && !o.quiet) warn(`kubewire: metrics at ${session.extras?.metricsUrl}`); // fault:
    let ui: { url: string; close(): Promise<void> } | null = null; // ui:
    let code: number;
    try {
      ui = o.ui ? await (await import("./ui.js")).serveUi({ db: session.dbPath, kubeconfig: o.session.kubeconfig, stateDir: o.session.stateDir, warn }) : null; // ui:
      if (ui) warn(`kubewire: web view: ${ui.url}`); // ui:
      code = await child.exited;
    } catch (error) {
      await ui?.close(); // ui: CMD could not run: the page goes too
      throw error;
    } finally {
      const stats = await session.stop(200);
      if (!o.quiet || stats.dropped || stats.spilled) warn(`${(await import("../../session/recording-session.js")).describeStats(stats)} into ${session.dbPath}`);
    }
    if (!o.quiet) for (const line of (await import("../exec-verdict.js")).execVerdict(session.dbPath, since, argv[0], session.source.run)) warn(line);
    if (ui) { // ui: the page stays up after CMD, until Ctrl-C
      warn(`kubewire: ${argv[0]} exited with ${code}; the web view stays open until Ctrl-C`);
      await (await import("./ui.js")).untilInterrupted();
      await ui.close();
    }
    return code;
  },
};

/** CMD started with the terminal and the signals kubewire gets; exited: its exit code (128+N for signal N). */
function runCommand(argv: string[], env: NodeJS.ProcessEnv): { exited: Promise<number>; stop(): void } {
  const child = spawn(argv[0], argv.slice(1), { stdio: "inherit", env });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", (err: NodeJS.ErrnoException) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      reject(new UserError(err.code === "ENOENT" ? `${argv[0]}: command not found` : `cannot run ${argv[0]}: ${err.message}`, undefined, 127));
    });
    child.once("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1));
    });
  });
  exited.catch(() => undefined); // awaited later: a CMD that cannot run is not an unhandled rejection meanwhile
  return { exited, stop: () => child.kill("SIGTERM") };
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal];
}
