// `kubewire export`: recorded exchanges (any ls filter) as a HAR 1.2 file for browser devtools
// and HTTP tools, or as JSON Lines (the `show -o json` shape) for scripts.
import { Command } from "commander";
import { plural } from "../../analyze/lib/util.js";
import { UserError } from "../../errors.js";
import { exportHar, exportJsonl } from "../../export/write-export.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { kubewireVersion } from "../top-level.js";
import type { ListFilter } from "../../store/store.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

export function makeExportCommand(): Command {
  const cmd = new Command("export")
    .description("Write recorded exchanges to a HAR file (devtools, HTTP tools) or JSON Lines")
    .option("--har <file>", "HTTP Archive 1.2 (- for stdout)")
    .option("--jsonl <file>", "one exchange per line, as show -o json prints it (- for stdout)")
    .addHelpText(
      "after",
      `
Examples:
  kubewire export --har kubewire.har                 # open it in your browser's devtools
  kubewire export --har failed.har --status 4xx --since 1h
  kubewire export --jsonl - --resource pods | jq -r .request.path`,
    );
  addFilterOptions(addDbOption(cmd)).action(actionOf(exportSteps));
  return cmd;
}

export interface ExportOptions {
  recording: { db?: string; stateDir?: string };
  har?: string;
  jsonl?: string;
  filter: ListFilter;
}

export const exportSteps: CommandSteps<ExportOptions> = {
  complete({ opts }) {
    return { recording: { db: opts.db, stateDir: opts.stateDir }, har: opts.har, jsonl: opts.jsonl, filter: filterFrom(opts) };
  },
  validate(o) {
    if (Boolean(o.har) === Boolean(o.jsonl)) throw new UserError("choose one output: --har FILE or --jsonl FILE", "kubewire export --har kubewire.har");
  },
  run(o, { err }) {
    const store = openRecording(o.recording);
    try {
      const file = (o.har ?? o.jsonl)!;
      const counts = o.har ? exportHar(store, o.filter, file, kubewireVersion()) : exportJsonl(store, o.filter, file);
      const skipped = counts.skipped ? ` (${counts.skipped} without a request left out: the client failed its TLS handshake)` : "";
      err.write(`kubewire: exported ${plural(counts.written, "exchange")} to ${file === "-" ? "stdout" : file}${skipped}\n`);
    } finally {
      store.close();
    }
  },
};
