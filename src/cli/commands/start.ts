// `kubewire start`: runs the recording proxy in the foreground until SIGINT/SIGTERM, one listener
// per context of the kubeconfig.
import { Command, Option } from "commander";
import { join } from "node:path";
import { parseDuration, parseSize } from "../durations.js";
import { UserError } from "../../errors.js";
import { addSessionOptions, addUiOption } from "../session-options.js"; // ui: addUiOption
import { sessionOptionsFrom } from "../session-defaults.js";
import type { SessionOptions } from "../../session/prepare.js";
import { actionOf, lineTo, type CommandSteps } from "../command-shape.js";

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
  addUiOption(addSessionOptions(cmd)).action(actionOf(startSteps)); // ui: addUiOption
  return cmd;
}

export interface StartOptions {
  /** the recording session's options; its warn is the err stream, set by run */
  session: SessionOptions;
  inCluster: boolean;
  saDir?: string;
  sharedDir?: string;
  /** given as --kubeconfig or --context (refused with --in-cluster) */
  kubeconfigGiven: boolean;
  ui: boolean; // ui:
}

export const startSteps: CommandSteps<StartOptions> = {
  complete({ opts }) {
    const session = sessionOptionsFrom(opts, () => {});
    session.extras = { ...session.extras, control: true }; // fault: `kubewire faults add|ls|rm` reach this run
    if (opts.sharedDir) session.writeKubeconfig = join(opts.sharedDir, "kubeconfig");
    session.maxDbBytes = opts.maxDbSize;
    session.captureForMs = opts.captureFor;
    return { session, inCluster: !!opts.inCluster, saDir: opts.saDir, sharedDir: opts.sharedDir, kubeconfigGiven: !!(opts.kubeconfig || opts.context), ui: !!opts.ui };
  },
  validate(o) {
    if (o.inCluster && o.kubeconfigGiven) throw new UserError("--in-cluster takes the API server from the pod (KUBERNETES_SERVICE_HOST/PORT and the service account directory), not from a kubeconfig", "drop --kubeconfig and --context, or drop --in-cluster");
    if (!o.inCluster && o.saDir) throw new UserError("--sa-dir is for --in-cluster only");
  },
  async run(o, { out, err }) {
    const { describeStats, startSession, startInClusterSession } = await import("../../session/recording-session.js");
    const options = { ...o.session, warn: lineTo(err) };
    const session = o.inCluster ? await startInClusterSession({ ...options, inCluster: { saDir: o.saDir } }) : await startSession(options);
    if (o.sharedDir) {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(join(o.sharedDir, "ca.crt"), session.client.caPem, { mode: 0o644 });
    }
    if (o.inCluster) out.write(`kubewire: recording in-cluster traffic to ${session.upstream.server.origin} into ${session.dbPath}; each client's own service account token passes through\n`);
    else out.write(`kubewire: recording context "${session.upstream.contextName}" (${session.upstream.server.origin}) into ${session.dbPath}\n`);
    out.write(`kubewire: listening on ${session.proxy.url}\n`);
    const others = session.listeners.length - 1;
    if (others > 0) out.write(`kubewire: and for the ${others} other cluster${others === 1 ? "" : "s"} of the kubeconfig, each at its own port; every context works (kubectl --context NAME)\n`);
    out.write(`kubewire: client kubeconfig written to ${session.kubeconfigPath}\n`);
    out.write(`  export KUBECONFIG=${session.kubeconfigPath}\n`);
    if (session.extras?.metricsUrl) out.write(`kubewire: metrics at ${session.extras?.metricsUrl}\n`); // fault:
    if (session.extras?.faults?.size) out.write(`kubewire: ${session.extras?.faults.size} fault rule(s) active; see kubewire faults ls\n`); // fault:
    const ui = o.ui ? await (await import("./ui.js")).serveUi({ db: session.dbPath, kubeconfig: o.session.kubeconfig, stateDir: o.session.stateDir, warn: lineTo(err) }) : null; // ui:
    if (ui) out.write(`kubewire: web view: ${ui.url}\n`); // ui:
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        err.write(`kubewire: ${signal}: stopping, flushing records...\n`);
        resolve();
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
    await ui?.close(); // ui:
    const stats = await session.stop(1000);
    err.write(`${describeStats(stats)}\n`);
  },
};
