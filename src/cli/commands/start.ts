// `kubewire start`: runs the recording proxy in the foreground until SIGINT/SIGTERM, one listener
// per context of the kubeconfig.
import { Command, Option } from "commander";
import { join } from "node:path";
import { parseDuration, parseSize } from "../durations.js";
import { UserError } from "../../errors.js";
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
  kubewire start --context staging --listen 127.0.0.1:0 --write-kubeconfig ./proxy.kubeconfig

  # In a pod (the sidecar that kubewire inject adds): the app's own token passes through
  kubewire start --in-cluster --shared-dir /var/run/kubewire --max-db-size 200MiB --capture-for 2h

  # Throttle the first three pod lists, serve metrics for Prometheus
  kubewire start --fault verb=list,resource=pods,status=429,retryAfter=1,times=3 --metrics 127.0.0.1:9464`,
    );
  // in-cluster: the pod's service account identity passes through; guardrails for a capture nobody watches
  cmd
    .option("--in-cluster", "forward to the API server of the pod's cluster (KUBERNETES_SERVICE_HOST/PORT, the service account CA); clients' own tokens pass through")
    .option("--sa-dir <dir>", "the service account directory for --in-cluster (default: /var/run/secrets/kubernetes.io/serviceaccount)")
    .option("--shared-dir <dir>", "write the client kubeconfig (and the local CA as ca.crt) into this directory, e.g. an emptyDir shared with the app")
    .addOption(new Option("--max-db-size <size>", "prune the oldest exchanges so the database stays under this size").argParser(parseSize))
    .addOption(new Option("--capture-for <duration>", "stop recording after this long, but keep forwarding").argParser(parseDuration));
  addUiOption(addSessionOptions(cmd)).action(async (opts) => { // ui: addUiOption
    const out = process.stdout;
    const { describeStats, startSession, startInClusterSession } = await import("../../session/recording-session.js");
    if (opts.inCluster && (opts.kubeconfig || opts.context)) throw new UserError("--in-cluster takes the API server from the pod (KUBERNETES_SERVICE_HOST/PORT and the service account directory), not from a kubeconfig", "drop --kubeconfig and --context, or drop --in-cluster");
    if (!opts.inCluster && opts.saDir) throw new UserError("--sa-dir is for --in-cluster only");
    const options = sessionOptionsFrom(opts, (l) => process.stderr.write(`${l}\n`));
    options.extras = { ...options.extras, control: true }; // fault: `kubewire faults add|ls|rm` reach this run
    if (opts.sharedDir) options.writeKubeconfig = join(opts.sharedDir, "kubeconfig");
    options.maxDbBytes = opts.maxDbSize;
    options.captureForMs = opts.captureFor;
    const session = opts.inCluster ? await startInClusterSession({ ...options, inCluster: { saDir: opts.saDir } }) : await startSession(options);
    if (opts.sharedDir) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(join(opts.sharedDir, "ca.crt"), session.client.caPem, { mode: 0o644 });
    }
    if (opts.inCluster) out.write(`kubewire: recording in-cluster traffic to ${session.upstream.server.origin} into ${session.dbPath}; each client's own service account token passes through\n`);
    else out.write(`kubewire: recording context "${session.upstream.contextName}" (${session.upstream.server.origin}) into ${session.dbPath}\n`);
    out.write(`kubewire: listening on ${session.proxy.url}\n`);
    const others = session.listeners.length - 1;
    if (others > 0) out.write(`kubewire: and for the ${others} other cluster${others === 1 ? "" : "s"} of the kubeconfig, each at its own port; every context works (kubectl --context NAME)\n`);
    out.write(`kubewire: client kubeconfig written to ${session.kubeconfigPath}\n`);
    out.write(`  export KUBECONFIG=${session.kubeconfigPath}\n`);
    if (session.extras?.metricsUrl) out.write(`kubewire: metrics at ${session.extras?.metricsUrl}\n`); // fault:
    if (session.extras?.faults?.size) out.write(`kubewire: ${session.extras?.faults.size} fault rule(s) active; see kubewire faults ls\n`); // fault:
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
