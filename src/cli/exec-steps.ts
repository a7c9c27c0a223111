// `exec`'s steps (complete, validate, run) and its fast start: a plain `kubewire exec [-q] [--kubeconfig
// PATH] [--context NAME] [--db PATH|URL] [--state-dir PATH] -- CMD...` is read here without commander, so
// CMD starts before commander loads (what every wrapped run pays); any other spelling goes through
// commands/exec.ts, and test/exec-fast-start.test.ts holds the two readings equal.
import { spawn } from "node:child_process";
import { UserError } from "../errors.js";
import type { RecordingSession } from "../session/recording-session.js";
import type { SessionOptions } from "../session/prepare.js";
import { parseDbSpec } from "../store/db-spec.js";
import { lineTo, runSteps, type CommandSteps, type RawInput } from "./command-shape.js";
import { errorExitCode } from "./error-exit.js";
import { SESSION_DEFAULTS, sessionOptionsFrom } from "./session-defaults.js";
import { debugRequested, quietOnClosedPipe } from "./top-level.js";

/**
 * A command that ends within this long has its exchanges written when it ends, so the writer thread
 * never starts (about a third of a short run's CPU); a longer one is recorded in batches as by `start`.
 * Nothing waits in memory only: each exchange is journaled as it is recorded.
 */
const DEFER_WRITES_MS = 2000;

/** The options the fast start reads, by flag; each takes a value except --quiet. */
const FAST_FLAGS: Record<string, string> = { "-q": "quiet", "--quiet": "quiet", "--kubeconfig": "kubeconfig", "--context": "context", "--db": "db", "--state-dir": "stateDir" };

/**
 * What commander would hand exec's action for ARGV (process.argv), when ARGV is a plain run: only the
 * flags above, each once, values neither empty nor starting with "-", then "--" and a command. Else null,
 * and commander reads ARGV (so help, errors and every other option behave as they always have).
 */
export function fastExecInput(argv: string[]): RawInput | null {
  if (argv[2] !== "exec") return null;
  const end = argv.indexOf("--", 3);
  if (end === -1 || end === argv.length - 1) return null;
  const opts: Record<string, any> = { ...SESSION_DEFAULTS };
  for (let i = 3; i < end; i++) {
    const eq = argv[i].indexOf("=");
    const flag = eq > 0 && argv[i].startsWith("--") ? argv[i].slice(0, eq) : argv[i];
    const key = FAST_FLAGS[flag];
    if (!key || key in opts) return null;
    if (key === "quiet") {
      if (flag !== argv[i]) return null;
      opts.quiet = true;
      continue;
    }
    const value = flag !== argv[i] ? argv[i].slice(eq + 1) : argv[++i];
    if (i >= end || !value || value.startsWith("-")) return null;
    if (key === "db") {
      try {
        parseDbSpec(value); // as the --db option's own parser does; commander reports a bad one
      } catch {
        return null;
      }
    }
    opts[key] = value;
  }
  return { args: [argv.slice(end + 1)], opts };
}

/** Runs a plain `exec` (fastExecInput) as commander's action would, setting the exit code; false: ARGV is not one. */
export async function runFastExec(argv: string[]): Promise<boolean> {
  const raw = fastExecInput(argv);
  if (!raw) return false;
  quietOnClosedPipe(process.stdout);
  try {
    const code = await runSteps(execSteps, raw, { out: process.stdout, err: process.stderr });
    if (typeof code === "number") process.exitCode = code;
  } catch (err) {
    process.exitCode = errorExitCode(err, debugRequested(argv));
  }
  return true;
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
    // The credentials are read, the ports bound and the kubeconfig written first, and CMD starts at once:
    // the proxy and the database load while it starts up (its first connections wait on the bound ports).
    // What can still fail after that (the database, --metrics, --ui) stops CMD and says why.
    const { prepareSession } = await import("../session/prepare.js");
    // ui: the web view shows exchanges as they are written, so they are not held back
    const prepared = await prepareSession({ ...o.session, warn, ephemeralKubeconfig: true, deferWritesMs: o.ui ? 0 : DEFER_WRITES_MS, checkDb: false, preconnect: true });
    const since = Date.now();
    let child: ReturnType<typeof runCommand>;
    try {
      prepared.writeKubeconfig();
      // CMD's own output is its own: it inherits the terminal, not kubewire's out/err
      child = runCommand(argv, { ...o.env, KUBECONFIG: prepared.kubeconfigPath });
    } catch (error) {
      prepared.abort();
      throw error;
    }
    let rs: typeof import("../session/recording-session.js") | null = null;
    let session: RecordingSession | null = null;
    let ui: { url: string; close(): Promise<void> } | null = null; // ui:
    let code: number;
    try {
      rs = await import("../session/recording-session.js");
      session = await rs.startPrepared(prepared); // undoes what it started, and the prepared part, when it fails
      if (session.extras?.metricsUrl && !o.quiet) warn(`kubewire: metrics at ${session.extras?.metricsUrl}`); // fault:
      ui = o.ui ? await (await import("./commands/ui.js")).serveUi({ db: session.dbPath, kubeconfig: o.session.kubeconfig, stateDir: o.session.stateDir, warn }) : null; // ui:
      if (ui) warn(`kubewire: web view: ${ui.url}`); // ui:
      code = await child.exited;
    } catch (error) {
      if (!rs) prepared.abort();
      await ui?.close(); // ui:
      child.stop(); // CMD must not outlive the proxy it was pointed at (when it could not run, this does nothing)
      await child.exited.catch(() => undefined);
      throw error;
    } finally {
      if (session) {
        const stats = await session.stop(200);
        if (!o.quiet || stats.dropped || stats.spilled) warn(`${rs!.describeStats(stats)} into ${session.dbPath}`);
      }
    }
    if (!o.quiet) for (const line of (await import("./exec-verdict.js")).execVerdict(session.dbPath, since, argv[0], session.source.run)) warn(line);
    if (ui) { // ui: the page stays up after CMD, until Ctrl-C
      warn(`kubewire: ${argv[0]} exited with ${code}; the web view stays open until Ctrl-C`);
      await (await import("./commands/ui.js")).untilInterrupted();
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
