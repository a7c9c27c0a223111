// `kubewire faults add|ls|rm`: change the fault rules of a running `kubewire start` through its
// control endpoint (loopback, the run's token), without restarting it.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { UserError } from "../../errors.js";
import { callControl, findControls, type ControlFile } from "../../control/control.js";
import { stateDirPath } from "../../tls/state-dir.js";
import { json, table, yaml } from "../../format/output.js";
import { outputOf, printList, printObject, type Printer } from "../../format/printers.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

function pick(opts: { stateDir?: string; pid?: string }): ControlFile {
  const runs = findControls(stateDirPath(opts.stateDir));
  const chosen = opts.pid ? runs.filter((r) => String(r.pid) === opts.pid) : runs;
  if (chosen.length === 0) throw new UserError(opts.pid ? `no running kubewire start with pid ${opts.pid} in this state directory` : "no kubewire start is running from this state directory", "start one with kubewire start (exec runs take their rules from --fault/--faults)");
  if (chosen.length > 1) throw new UserError(`${chosen.length} kubewire runs are running (pids ${chosen.map((r) => r.pid).join(", ")})`, "choose one with --pid");
  return chosen[0];
}

function common(cmd: Command): Command {
  return cmd.option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)").option("--pid <pid>", "the run to change, when several are running");
}

export function makeFaultsCommand(): Command {
  const cmd = new Command("faults").description("Add, list and remove the fault rules of a running kubewire start").addHelpText(
    "after",
    `
Examples:
  kubewire faults add verb=list,resource=pods,status=429,retryAfter=1,times=3
  kubewire faults add -f faults.yaml
  kubewire faults ls
  kubewire faults rm fault-1`,
  );
  cmd.addCommand(
    common(new Command("add"))
      .description("Add rules: inline (the --fault syntax) or from a rules file")
      .argument("[rules...]", "inline rules, e.g. verb=list,resource=pods,status=429,times=3")
      .option("-f, --file <path>", "a rules file (faults: [...])")
      .action(actionOf(faultsAddSteps)),
  );
  cmd.addCommand(
    common(new Command("ls"))
      .description("List the rules with how often each matched and fired")
      .addOption(new Option("-o, --output <format>", "table, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC (over {faults: [...]})").default("table"))
      .action(actionOf(faultsLsSteps)),
  );
  cmd.addCommand(
    common(new Command("rm"))
      .description("Remove rules by name")
      .argument("<names...>")
      .action(actionOf(faultsRmSteps)),
  );
  return cmd;
}

/** Which running start to talk to: its state directory and, when several run, its pid. */
interface RunChoice {
  stateDir?: string;
  pid?: string;
}

export interface FaultsAddOptions extends RunChoice {
  inline: string[];
  file?: string;
}

export const faultsAddSteps: CommandSteps<FaultsAddOptions> = {
  complete({ args, opts }) {
    return { stateDir: opts.stateDir, pid: opts.pid, inline: (args[0] as string[] | undefined) ?? [], file: opts.file };
  },
  validate(o) {
    if (!o.inline.length && !o.file) throw new UserError("give an inline rule or -f FILE");
  },
  async run(o, { out }) {
    const run = pick(o);
    const added: string[] = [];
    if (o.file) added.push(...(await callControl(run, "POST", "/faults", { yaml: readFileSync(o.file, "utf8") })).added);
    if (o.inline.length) added.push(...(await callControl(run, "POST", "/faults", { inline: o.inline })).added);
    out.write(`added ${added.join(", ")}\n`);
  },
};

export interface FaultsLsOptions extends RunChoice {
  format: string;
  printer?: Printer;
}

export const faultsLsSteps: CommandSteps<FaultsLsOptions> = {
  complete({ opts }) {
    const { format, printer } = outputOf(opts.output ?? "table", ["table", "json", "yaml"]);
    return { stateDir: opts.stateDir, pid: opts.pid, format, printer };
  },
  validate() {},
  async run(o, { out }) {
    const { faults } = await callControl(pick(o), "GET", "/faults");
    if (o.printer) return void out.write(o.printer.kind === "custom-columns" ? printList(o.printer, faults) : printObject(o.printer, { faults }));
    if (o.format === "json") return void out.write(json({ faults }));
    if (o.format === "yaml") return void out.write(yaml({ faults }));
    const rows = (faults as Array<Record<string, any>>).map((f) => [
      f.name,
      Object.entries(f.match).map(([k, v]) => `${k}=${v}`).join(",") || "(everything)",
      Object.entries(f.action).map(([k, v]) => `${k}=${v}`).join(","),
      [f.times !== undefined ? `times=${f.times}` : "", f.after !== undefined ? `after=${f.after}` : "", f.probability !== undefined ? `probability=${f.probability}` : "", f.until ? `until=${f.until}` : ""].filter(Boolean).join(",") || "-",
      String(f.matched),
      String(f.fired),
    ]);
    out.write(rows.length ? table(["NAME", "MATCH", "ACTION", "HOW OFTEN", "MATCHED", "FIRED"], rows) : "no fault rules\n");
  },
};

export interface FaultsRmOptions extends RunChoice {
  names: string[];
}

export const faultsRmSteps: CommandSteps<FaultsRmOptions> = {
  complete({ args, opts }) {
    return { stateDir: opts.stateDir, pid: opts.pid, names: args[0] as string[] };
  },
  validate() {},
  async run(o, { out }) {
    const run = pick(o);
    for (const n of o.names) await callControl(run, "DELETE", `/faults/${encodeURIComponent(n)}`);
    out.write(`removed ${o.names.join(", ")}\n`);
  },
};
