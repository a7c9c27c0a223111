// `kubewire status`: the proxies running from this state directory, whether any record was
// spilled or dropped, and what a kill -9 would lose.
import { Command, Option } from "commander";
import { stateDirPath } from "../../tls/state-dir.js";
import { age, json, table } from "../../format/output.js";
import { outputOf, printList, type Printer } from "../../format/printers.js";
import { actionOf, type CommandSteps } from "../command-shape.js";
import { readRunStatuses } from "../../session/run-status.js";

export function makeStatusCommand(): Command {
  return new Command("status")
    .description("Show the running kubewire proxies and their recording counts")
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)")
    .addOption(new Option("-o, --output <format>", "table, json, jsonpath=TEMPLATE or custom-columns=SPEC").default("table"))
    .addHelpText(
      "after",
      `
Examples:
  kubewire status
  kubewire status -o json`,
    )
    .action(actionOf(statusSteps));
}

export interface StatusOptions {
  stateDir: string;
  format: string;
  printer?: Printer;
}

export const statusSteps: CommandSteps<StatusOptions> = {
  complete({ opts }, env) {
    const { format, printer } = outputOf(opts.output ?? "table", ["table", "json"]);
    return { stateDir: stateDirPath(opts.stateDir, env), format, printer };
  },
  validate() {},
  run(o, { out }) {
    const runs = readRunStatuses(o.stateDir);
    if (o.format !== "table") {
      out.write(o.printer ? printList(o.printer, runs) : json(runs));
      return;
    }
    if (runs.length === 0) {
      out.write("no kubewire proxy is running from this state directory\n");
      return;
    }
    const now = Date.now();
    // RUN: the id its exchanges carry as their source (ls --source run=ID)
    const rows = runs.map((r) => [String(r.pid), r.run || "-", r.url, r.context, age(now - Date.parse(r.startedAt)), String(r.stats.written), String(r.stats.queued), String(r.stats.spilled), String(r.stats.dropped), r.db]);
    out.write(table(["PID", "RUN", "URL", "CONTEXT", "UP", "RECORDED", "QUEUED", "SPILLED", "DROPPED", "DATABASE"], rows));
    const unjournaled = runs.filter((r) => r.stats.journal === false);
    out.write(
      unjournaled.length === 0
        ? "\nEvery exchange is journaled beside its database before it is batched: a kill -9 loses none that reached the recorder.\n"
        : `\nWARNING: no journal for PID ${unjournaled.map((r) => r.pid).join(", ")}: a kill -9 may lose the exchanges of the last batch window (up to 100 ms)${unjournaled[0]!.stats.lastError ? ` (${unjournaled[0]!.stats.lastError})` : ""}\n`,
    );
    const lost = runs.filter((r) => r.stats.dropped > 0);
    if (lost.length) out.write(`\nWARNING: ${lost.reduce((n, r) => n + r.stats.dropped, 0)} records were dropped: the database and the spill file both failed (last error: ${lost[0].stats.lastError ?? "unknown"})\n`);
  },
};
