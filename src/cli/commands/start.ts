// `kubewire start`: runs the recording proxy in the foreground until SIGINT/SIGTERM.
import { Command } from "commander";
import { addSessionOptions, sessionOptionsFrom } from "../session-options.js";

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
  kubewire start --context staging --listen 127.0.0.1:0 --write-kubeconfig ./proxy.kubeconfig

  # Throttle the first three pod lists, serve metrics for Prometheus
  kubewire start --fault verb=list,resource=pods,status=429,retryAfter=1,times=3 --metrics 127.0.0.1:9464`,
    );
  addSessionOptions(cmd).action(async (opts) => {
    const out = process.stdout;
    const { describeStats, startSession } = await import("../recording-session.js");
    const options = sessionOptionsFrom(opts, (l) => process.stderr.write(`${l}\n`));
    options.extras = { ...options.extras, control: true }; // fault: `kubewire faults add|ls|rm` reach this run
    const session = await startSession(options);
    out.write(`kubewire: recording context "${session.upstream.contextName}" (${session.upstream.server.origin}) into ${session.dbPath}\n`);
    out.write(`kubewire: listening on ${session.proxy.url}\n`);
    out.write(`kubewire: client kubeconfig written to ${session.kubeconfigPath}\n`);
    out.write(`  export KUBECONFIG=${session.kubeconfigPath}\n`);
    if (session.extras.metricsUrl) out.write(`kubewire: metrics at ${session.extras.metricsUrl}\n`); // fault:
    if (session.extras.faults?.size) out.write(`kubewire: ${session.extras.faults.size} fault rule(s) active; see kubewire faults ls\n`); // fault:
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`kubewire: ${signal}: stopping, flushing records...\n`);
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    const stats = await session.stop(1000);
    process.stderr.write(`${describeStats(stats)}\n`);
  });
  return cmd;
}
