// `kubewire start`: runs the recording proxy in the foreground until SIGINT/SIGTERM.
import { Command } from "commander";
import { addSessionOptions, addUiOption, sessionOptionsFrom } from "../session-options.js"; // ui: addUiOption

export function makeStartCommand(): Command {
  const cmd = new Command("start")
    .description("Run the recording proxy in front of the API server of a kubeconfig context")
    .addHelpText(
      "after",
      `
Examples:
  # Record the current context; point programs at the printed kubeconfig
  kubewire start

  # Another context, a free port, a kubeconfig where you want it
  kubewire start --context staging --listen 127.0.0.1:0 --write-kubeconfig ./proxy.kubeconfig`,
    );
  addUiOption(addSessionOptions(cmd)).action(async (opts) => { // ui: addUiOption
    const out = process.stdout;
    const { describeStats, startSession } = await import("../recording-session.js");
    const session = await startSession(sessionOptionsFrom(opts, (l) => process.stderr.write(`${l}\n`)));
    out.write(`kubewire: recording context "${session.upstream.contextName}" (${session.upstream.server.origin}) into ${session.dbPath}\n`);
    out.write(`kubewire: listening on ${session.proxy.url}\n`);
    out.write(`kubewire: client kubeconfig written to ${session.kubeconfigPath}\n`);
    out.write(`  export KUBECONFIG=${session.kubeconfigPath}\n`);
    const ui = opts.ui ? await (await import("./ui.js")).serveUi({ db: session.dbPath, kubeconfig: opts.kubeconfig, stateDir: opts.stateDir }) : null; // ui:
    if (ui) out.write(`kubewire: web view: ${ui.url}\n`); // ui:
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`kubewire: ${signal}: stopping, flushing records...\n`);
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    await ui?.close(); // ui:
    const stats = await session.stop(1000);
    process.stderr.write(`${describeStats(stats)}\n`);
  });
  return cmd;
}
