// `kubewire faults add|ls|rm`: change the fault rules of a running `kubewire start` through its
// control endpoint (loopback, the run's token), without restarting it.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { UserError } from "../../errors.js";
import { callControl, findControls, type ControlFile } from "../../control/control.js";
import { stateDirPath } from "../../tls/state-dir.js";
import { json, table, yaml } from "../../format/output.js";
import { outputOf, printList, printObject } from "../../format/printers.js";

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
      .action(async (inline: string[], opts) => {
        if (!inline.length && !opts.file) throw new UserError("give an inline rule or -f FILE");
        const run = pick(opts);
        const added: string[] = [];
        if (opts.file) added.push(...(await callControl(run, "POST", "/faults", { yaml: readFileSync(opts.file, "utf8") })).added);
        if (inline.length) added.push(...(await callControl(run, "POST", "/faults", { inline })).added);
        process.stdout.write(`added ${added.join(", ")}\n`);
      }),
  );
  cmd.addCommand(
    common(new Command("ls"))
      .description("List the rules with how often each matched and fired")
      .addOption(new Option("-o, --output <format>", "table, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC (over {faults: [...]})").default("table"))
      .action(async (opts) => {
        const { format, printer } = outputOf(opts.output, ["table", "json", "yaml"]);
        const { faults } = await callControl(pick(opts), "GET", "/faults");
        if (printer) return void process.stdout.write(printer.kind === "custom-columns" ? printList(printer, faults) : printObject(printer, { faults }));
        if (format === "json") return void process.stdout.write(json({ faults }));
        if (format === "yaml") return void process.stdout.write(yaml({ faults }));
        const rows = (faults as Array<Record<string, any>>).map((f) => [
          f.name,
          Object.entries(f.match).map(([k, v]) => `${k}=${v}`).join(",") || "(everything)",
          Object.entries(f.action).map(([k, v]) => `${k}=${v}`).join(","),
          [f.times !== undefined ? `times=${f.times}` : "", f.after !== undefined ? `after=${f.after}` : "", f.probability !== undefined ? `probability=${f.probability}` : "", f.until ? `until=${f.until}` : ""].filter(Boolean).join(",") || "-",
          String(f.matched),
          String(f.fired),
        ]);
        process.stdout.write(rows.length ? table(["NAME", "MATCH", "ACTION", "HOW OFTEN", "MATCHED", "FIRED"], rows) : "no fault rules\n");
      }),
  );
  cmd.addCommand(
    common(new Command("rm"))
      .description("Remove rules by name")
      .argument("<names...>")
      .action(async (names: string[], opts) => {
        const run = pick(opts);
        for (const n of names) await callControl(run, "DELETE", `/faults/${encodeURIComponent(n)}`);
        process.stdout.write(`removed ${names.join(", ")}\n`);
      }),
  );
  return cmd;
}
