// `kubewire inject`: adds the in-cluster kubewire sidecar to workload manifests (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and writes them to stdout; --uninject takes it out again.
import { Command, Option } from "commander";
import { injectText, uninjectText } from "../../inject/inject.js";
import { readManifests } from "../../inject/read-input.js";
import { DEFAULT_SIDECAR } from "../../inject/sidecar.js";
import { parseDuration, parseSize } from "../durations.js";

export function makeInjectCommand(): Command {
  return new Command("inject")
    .description("Add the kubewire sidecar to workload manifests, so the app's API traffic is recorded in the cluster under its own service account")
    .option("-f, --filename <path>", "a manifest file or a directory of them (default: standard input)")
    .option("--image <image>", "the kubewire image for the sidecar", DEFAULT_SIDECAR.image)
    .addOption(new Option("--max-db-size <size>", "the sidecar's --max-db-size").default(DEFAULT_SIDECAR.maxDbSize))
    .addOption(new Option("--capture-for <duration>", "the sidecar's --capture-for").default(DEFAULT_SIDECAR.captureFor))
    .option("--uninject", "remove exactly what kubewire inject added")
    .addHelpText(
      "after",
      `
Examples:
  # Add the sidecar and apply
  kubewire inject -f deploy.yaml | kubectl apply -f -

  # A whole folder, with an image loaded into kind
  kubewire inject -f manifests/ --image kubewire:dev

  # Take it out again
  kubectl get deploy web -o yaml | kubewire inject --uninject | kubectl apply -f -`,
    )
    .action(async (opts) => {
      parseSize(opts.maxDbSize); // validated here, passed to the sidecar as written
      parseDuration(opts.captureFor);
      const sources = await readManifests(opts.filename);
      const texts: string[] = [];
      for (const s of sources) {
        if (opts.uninject) {
          texts.push(uninjectText(s.text).text);
          continue;
        }
        const r = injectText(s.text, { image: opts.image, maxDbSize: opts.maxDbSize, captureFor: opts.captureFor });
        for (const n of r.notes) process.stderr.write(`kubewire inject: ${n.object}: ${n.message}\n`);
        texts.push(r.text);
      }
      process.stdout.write(texts.map((t, i) => (i < texts.length - 1 && !t.endsWith("\n") ? `${t}\n` : t)).join("---\n"));
    });
}
