// `kubewire exec -- CMD`: runs CMD with KUBECONFIG pointed at a fresh proxy and exits
// with CMD's exit code once every record is flushed. Its steps live in ../exec-steps.ts, without
// commander, so a plain `exec` starts CMD before commander loads.
import { Command } from "commander";
import { addSessionOptions, addUiOption } from "../session-options.js"; // ui: addUiOption
import { actionOf } from "../command-shape.js";
import { execSteps } from "../exec-steps.js";

// its steps, as every command file exports them (defined beside, where commander is not loaded)
export { execSteps };

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

