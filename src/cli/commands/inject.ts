// `kubewire inject`: adds the in-cluster kubewire sidecar to workload manifests (Pod, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) and writes them to stdout; --uninject takes it out again.
import { Command, Option } from "commander";
import { injectText, uninjectText } from "../../inject/inject.js";
import { readManifests } from "../../inject/read-input.js";
import { DEFAULT_SIDECAR } from "../../inject/sidecar.js";
import { parseDuration, parseSize } from "../durations.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

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
    .action(actionOf(injectSteps));
}

export interface InjectOptions {
  filename?: string;
  image: string;
  maxDbSize: string;
  captureFor: string;
  uninject: boolean;
}

export const injectSteps: CommandSteps<InjectOptions> = {
  complete({ opts }) {
    return { filename: opts.filename, image: opts.image ?? DEFAULT_SIDECAR.image, maxDbSize: opts.maxDbSize ?? DEFAULT_SIDECAR.maxDbSize, captureFor: opts.captureFor ?? DEFAULT_SIDECAR.captureFor, uninject: !!opts.uninject };
  },
  validate(o) {
    parseSize(o.maxDbSize); // validated here, passed to the sidecar as written
    parseDuration(o.captureFor);
  },
  async run(o, { out, err }) {
    const sources = await readManifests(o.filename);
    const texts: string[] = [];
    for (const s of sources) {
      if (o.uninject) {
        texts.push(uninjectText(s.text).text);
        continue;
      }
      const r = injectText(s.text, { image: o.image, maxDbSize: o.maxDbSize, captureFor: o.captureFor });
      for (const n of r.notes) err.write(`kubewire inject: ${n.object}: ${n.message}\n`);
      texts.push(r.text);
    }
    out.write(texts.map((t, i) => (i < texts.length - 1 && !t.endsWith("\n") ? `${t}\n` : t)).join("---\n"));
  },
};
