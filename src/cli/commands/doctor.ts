// `kubewire doctor`: walks the seven checks people do by hand when a program cannot connect
// (kubeconfig, credentials, network, TLS, health, who am I, what may I do) and says what to fix.
import type { DoctorOptions as DoctorRunOptions } from "../../doctor/lib/step.js";
import { Command, Option } from "commander";
import { UserError } from "../../errors.js";
import { parseResourceArg } from "../../resource-arg.js";
import type { DoctorReport, StepReport } from "../../doctor/index.js";
import { SERVICE_ACCOUNT_DIR, VERBS } from "../../doctor/lib/constants.js";
import type { CheckStatus } from "../../types.js";
import { parseDuration } from "../durations.js";
import { dbOption } from "../db-option.js";
import { json, paint, yaml, type Paint } from "../../format/output.js";
import { outputOf, printObject, type Printer } from "../../format/printers.js";
import { actionOf, lineTo, type CommandSteps } from "../command-shape.js";

export function makeDoctorCommand(): Command {
  const cmd = new Command("doctor")
    .description("Diagnose why a program cannot reach its cluster: kubeconfig, credentials, network, TLS, health, identity, permissions")
    .option("--kubeconfig <path>", "kubeconfig to check (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to check (default: current-context)")
    .option("-n, --namespace <ns>", "namespace for the permission checks (default: the context's)")
    .option("--can <verb-resource...>", "also check VERB RESOURCE (repeatable: --can list pods --can create deployments.apps)")
    .addOption(new Option("-o, --output <format>", "table, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC (over the -o json object)").default("table"))
    .addOption(new Option("--timeout <duration>", "limit for each DNS lookup, connection, TLS handshake, request and exec plugin").default(5000, "5s").argParser(parseDuration))
    .option("--in-cluster", "also check what InClusterConfig would use (automatic inside a Pod)")
    .addOption(dbOption("database to record the run into: a SQLite file or a postgres:// URL (default: $KUBEWIRE_DB, else STATE_DIR/kubewire.db)"))
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .addHelpText(
      "after",
      `
Exit status: 0 when every step passes (warnings allowed), 1 when a check fails, 2 on bad usage.

Examples:
  # Check the current context
  kubewire doctor

  # Another context, and whether it may list deployments in "shop"
  kubewire doctor --context staging -n shop --can list deployments.apps --can get pods/log

  # Machine-readable, with a short limit for each network step
  kubewire doctor --kubeconfig ./ci.kubeconfig --timeout 2s -o json`,
    )
    .action(actionOf(doctorSteps));
  return cmd;
}

/** doctor's own inputs (its steps' warn and onStep are the run's), and how to print them */
export interface DoctorOptions extends Omit<DoctorRunOptions, "warn" | "onStep"> {
  format: string;
  printer?: Printer;
}

export const doctorSteps: CommandSteps<DoctorOptions> = {
  complete({ opts }, env) {
    const { format, printer } = outputOf(opts.output ?? "table", ["table", "json", "yaml"]);
    return {
      format,
      printer,
      can: canPairs(opts.can ?? []),
      kubeconfig: opts.kubeconfig,
      context: opts.context,
      namespace: opts.namespace,
      timeoutMs: opts.timeout ?? 5000,
      inCluster: !!opts.inCluster,
      db: opts.db,
      stateDir: opts.stateDir,
      env,
      serviceAccountDir: env.KUBEWIRE_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT_DIR,
    };
  },
  validate() {},
  async run(o, { out, err }) {
    const { runDoctor } = await import("../../doctor/index.js"); // loads client-node: only when run
    const p = paint(out);
    let printed = 0;
    // the table is printed a step at a time, as each ends: a slow network step is not a blank screen
    const onStep = o.format === "table"
      ? (s: StepReport, context: string | null) => {
          out.write(`${printed++ === 0 && context ? renderHeader(context) : ""}${renderStep(s, p)}`);
        }
      : undefined;
    const report = await runDoctor({
      kubeconfig: o.kubeconfig,
      context: o.context,
      namespace: o.namespace,
      can: o.can,
      timeoutMs: o.timeoutMs,
      inCluster: o.inCluster,
      db: o.db,
      stateDir: o.stateDir,
      env: o.env,
      serviceAccountDir: o.serviceAccountDir,
      warn: lineTo(err),
      onStep,
    });
    out.write(o.printer ? printObject(o.printer, report) : o.format === "json" ? json(report) : o.format === "yaml" ? yaml(report) : printed ? renderSummary(report, p) : renderReport(report, p));
    return report.ok ? 0 : 1;
  },
};

/** `--can list pods create deployments` → [["list","pods"],["create","deployments"]]; bad input is a UserError. */
export function canPairs(words: string[]): Array<[string, string]> {
  if (words.length % 2 !== 0) throw new UserError(`--can takes VERB RESOURCE pairs; got ${JSON.stringify(words.join(" "))}`, "example: --can list pods --can create deployments.apps");
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < words.length; i += 2) {
    const verb = words[i].toLowerCase();
    if (!VERBS.includes(verb)) throw new UserError(`--can ${words[i]} ${words[i + 1]}: "${words[i]}" is not a Kubernetes verb (${VERBS.join(", ")})`);
    if (!/^[a-z0-9*][a-z0-9.*-]*(\/[a-z0-9-]+)?$/i.test(words[i + 1])) throw new UserError(`--can ${words[i]} ${words[i + 1]}: "${words[i + 1]}" is not a resource (examples: pods, deployments.apps, pods/log)`);
    if (!words[i + 1].includes("*")) parseResourceArg(words[i + 1], `--can ${words[i]}`); // the --resource grammar, refused here rather than mid-run
    pairs.push([verb, words[i + 1]]);
  }
  return pairs;
}

const MARK: Record<CheckStatus, string> = { pass: "✓", warn: "!", fail: "✗", skip: "-" };

function colourOf(p: Paint): (s: CheckStatus, text: string) => string {
  return (s, text) => (s === "fail" ? p.red(text) : s === "warn" ? p.yellow(text) : s === "pass" ? p.green(text) : p.dim(text));
}

function renderHeader(context: string): string {
  return `context ${context}\n\n`;
}

/** One step and its checks, as printed when the step ends. */
export function renderStep(s: StepReport, p: Paint): string {
  const colour = colourOf(p);
  const lines = [colour(s.status, `${MARK[s.status]}  ${s.step}. ${s.name}`)];
  for (const c of s.checks) {
    const [first, ...more] = c.detail.split("\n");
    const text = first.startsWith(`${c.name}: `) ? first : `${c.name}: ${first}`;
    lines.push(`     ${colour(c.status, MARK[c.status])} ${text}`);
    for (const m of more) lines.push(`         ${m}`);
    if (c.fix && (c.status === "warn" || c.status === "fail")) lines.push(`         fix: ${c.fix}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The verdict under the steps. */
export function renderSummary(r: DoctorReport, p: Paint): string {
  const secs = `${(r.durationMs / 1000).toFixed(1)}s`;
  const failed = r.steps.find((s) => s.status === "fail");
  const warnings = r.steps.flatMap((s) => s.checks).filter((c) => c.status === "warn").length;
  if (failed) {
    const first = failed.checks.find((c) => c.status === "fail")!;
    return `\n${p.bold(p.red(`step ${failed.step} (${failed.name}) failed: ${first.name}: ${first.detail.split("\n")[0]}`))}\n`;
  }
  return `\n${p.bold(p.green(`all ${r.steps.length} steps passed${warnings ? ` with ${warnings} warning${warnings === 1 ? "" : "s"}` : ""} in ${secs}`))}\n`;
}

export function renderReport(r: DoctorReport, p: Paint): string {
  return `${r.context ? renderHeader(r.context) : ""}${r.steps.map((s) => renderStep(s, p)).join("")}${renderSummary(r, p)}`;
}
