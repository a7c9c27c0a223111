// `kubewire retries`: for each failure kubewire injected, what the client did next (retries, gaps
// against exponential backoff, Retry-After, relist after 410, giving up), one verdict line each.
import { Command, Option } from "commander";
import { CLIENT_GO_REFERENCE, judgeRetries, RETRY_WINDOW_MS } from "../../fault/retries.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { json } from "../../format/output.js";
import { outputOf, printList, type Printer } from "../../format/printers.js";
import type { ListFilter } from "../../store/store.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

export function makeRetriesCommand(): Command {
  const cmd = new Command("retries")
    .description("Judge how clients reacted to the faults kubewire injected: retries, backoff, Retry-After, relists")
    .addOption(new Option("-o, --output <format>", "text, json, jsonpath=TEMPLATE or custom-columns=SPEC").default("text"))
    .option("--reference", "also print client-go's defaults the verdicts are read against")
    .addHelpText(
      "after",
      `
Examples:
  kubewire exec --fault verb=list,resource=pods,status=429,retryAfter=1,times=3 -- kubectl get pods
  kubewire retries
  kubewire retries --since 10m -o json`,
    );
  addFilterOptions(addDbOption(cmd)).action(actionOf(retriesSteps));
  return cmd;
}

export interface RetriesOptions {
  recording: { db?: string; stateDir?: string };
  format: string;
  printer?: Printer;
  filter: ListFilter;
  reference: boolean;
}

export const retriesSteps: CommandSteps<RetriesOptions> = {
  complete({ opts }) {
    const { format, printer } = outputOf(opts.output ?? "text", ["text", "json"]);
    return { recording: { db: opts.db, stateDir: opts.stateDir }, format, printer, filter: { ...filterFrom(opts), limit: undefined }, reference: !!opts.reference };
  },
  validate() {},
  run(o, { out }) {
    const store = openRecording(o.recording);
    let verdicts;
    try {
      // only the stretch of the recording from the first injected failure to the last one and its retry window is read
      const filter = o.filter;
      const injected = store.list({ ...filter, flag: "injected" });
      verdicts = injected.length === 0 ? [] : judgeRetries([...store.iterate({ ...filter, since: Date.parse(injected[0].time), until: Date.parse(injected[injected.length - 1].time) + RETRY_WINDOW_MS })]);
    } finally {
      store.close();
    }
    if (o.format !== "text") {
      const data = verdicts.map(({ line, ...v }) => ({ ...v, verdict: line }));
      out.write(o.printer ? printList(o.printer, data) : json(data));
      return;
    }
    if (verdicts.length === 0) out.write("no injected failure recorded (inject some with --fault or --faults on start/exec)\n");
    for (const v of verdicts) out.write(`${v.line}\n`);
    if (o.reference) out.write(`\nclient-go, for reference:\n${CLIENT_GO_REFERENCE.map((l) => `  ${l}`).join("\n")}\n`);
  },
};
