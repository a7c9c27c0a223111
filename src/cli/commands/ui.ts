// `kubewire ui`: serves the web view (list, detail, flags, timeline, stats, replay) over a
// recording, live; also what `start --ui` and `exec --ui` call to serve it beside the proxy.
import { spawn } from "node:child_process";
import { Command, Option } from "commander";
import { addDbOption } from "../db-option.js";
import { defaultDbPath } from "../../session/db-path.js";
import { stateDirPath } from "../../tls/state-dir.js";
import { parseListen } from "../durations.js";
import { startUiServer, type Replayer, type UiServer } from "../../ui/server.js";
import { runReplays } from "../../replay/replay-run.js";
import { assignTargets, kubeconfigServers } from "../../replay/targets.js";
import { UserError } from "../../errors.js";
import { credentialFacts } from "../credential-facts.js";
import { actionOf, lineTo, type CommandSteps } from "../command-shape.js";

export function makeUiCommand(): Command {
  const cmd = new Command("ui")
    .description("Serve a live web view of a recording (list, detail, flags, timeline, stats, replay)")
    .addOption(new Option("--listen <host:port>", "address of the web view (port 0 picks a free one)").default(parseListen("127.0.0.1:0"), "127.0.0.1:0").argParser(parseListen))
    .option("--allow-remote", "allow --listen on a non-loopback address (the token still guards it)")
    .option("--open", "open the page in the default browser")
    .option("--kubeconfig <path>", "kubeconfig replays from the page use (default: $KUBECONFIG, else ~/.kube/config)")
    .addHelpText(
      "after",
      `
Examples:
  kubewire ui
  kubewire ui --db ./incident.db --open
  kubewire exec --ui -- kubectl get pods`,
    );
  addDbOption(cmd).action(actionOf(uiSteps));
  return cmd;
}

export interface UiOptions {
  db: string;
  stateDir?: string;
  listen?: { host: string; port: number };
  allowRemote: boolean;
  kubeconfig?: string;
  open: boolean;
}

export const uiSteps: CommandSteps<UiOptions> = {
  complete({ opts }, env) {
    return { db: defaultDbPath(stateDirPath(opts.stateDir, env), opts.db, env), stateDir: opts.stateDir, listen: opts.listen, allowRemote: !!opts.allowRemote, kubeconfig: opts.kubeconfig, open: !!opts.open };
  },
  validate() {},
  async run(o, { out, err }) {
    const ui = await serveUi({ ...o, warn: lineTo(err) });
    out.write(`kubewire: web view of ${o.db}\n  ${ui.url}\n`);
    await untilInterrupted();
    await ui.close();
  },
};

export interface ServeOptions {
  db: string;
  listen?: { host: string; port: number };
  allowRemote?: boolean;
  kubeconfig?: string;
  stateDir?: string;
  open?: boolean;
  warn?: (line: string) => void;
}

/** Starts the web view over db, with replays sent through a fresh session for the chosen context (as `kubewire replay`). */
export async function serveUi(o: ServeOptions): Promise<UiServer> {
  const warn = o.warn ?? ((l: string) => process.stderr.write(`${l}\n`));
  // as `kubewire replay`: to the context each exchange was recorded with, unless the page names another
  const replay: Replayer = async (items, context) => {
    const { distinct, refused } = assignTargets(items, context, kubeconfigServers(o.kubeconfig));
    if (refused.length) throw new UserError(`not replayed: ${refused[0].reason}`);
    const run = await runReplays(distinct, { kubeconfig: o.kubeconfig, db: o.db, stateDir: o.stateDir, concurrency: 1, watchSeconds: 2, timeoutMs: 30_000, warn });
    const [session] = run.sessions;
    return { context: session?.context ?? "", user: session?.user ?? "", comparisons: run.results };
  };
  const ui = await startUiServer({ db: o.db, host: o.listen?.host, port: o.listen?.port, allowRemote: o.allowRemote, replay, credentials: () => credentialFacts(o.kubeconfig) });
  if (o.open) spawn(process.platform === "darwin" ? "open" : "xdg-open", [ui.url], { stdio: "ignore", detached: true }).on("error", () => warn("kubewire: could not open a browser; open the URL above")).unref();
  return ui;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilInterrupted(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
