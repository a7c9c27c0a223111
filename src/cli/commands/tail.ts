// `kubewire tail`: `ls --follow` under its own name, printing the last few first; prints exchanges
// as a running proxy records them, with the ls filters (the following itself lives in ls.ts).
import { Command, InvalidArgumentError, Option } from "commander";
import { addDbOption, openRecording } from "../db-option.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { checkSortBy, outputOf } from "../../format/printers.js";
import { addFollowOptions, follow } from "./ls.js";

function parseBacklog(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not a whole number (0 prints none)`);
  return Number(v);
}

export function makeTailCommand(): Command {
  const cmd = new Command("tail")
    .description("Print exchanges live as a running kubewire records them (same filters as ls)")
    .addOption(new Option("-o, --output <format>", "table, wide, json (one object per line), jsonpath=TEMPLATE (per exchange) or custom-columns=SPEC").default("table"))
    .option("--sort-by <jsonpath>", "order the exchanges printed first by a field, e.g. .durationMs (new ones print as they come)")
    .option("--no-headers", "omit the header row")
    .addOption(new Option("--backlog <n>", "already-recorded exchanges to print first").default(10).argParser(parseBacklog))
    .addHelpText(
      "after",
      `
Examples:
  kubewire tail
  kubewire tail --status 4xx --flag forbidden
  kubewire tail -o json | jq -c 'select(.durationMs > 500)'
  kubewire tail -o jsonpath='{.id} {.verb} {.path} {.status}{"\n"}'
  kubewire ls --follow --resource pods`,
    );
  addFollowOptions(addFilterOptions(addDbOption(cmd))).action(async (opts) => {
    const { format, printer } = outputOf(opts.output, ["table", "wide", "json"]);
    checkSortBy(opts.sortBy);
    const filter = filterFrom(opts);
    const store = openRecording(opts);
    try {
      await follow(store, { ...filter, limit: undefined }, {
        format,
        printer,
        sortBy: opts.sortBy,
        noHeaders: !opts.headers,
        intervalMs: opts.interval,
        stopAfterMs: opts.stopAfter,
        backlog: filter.limit ?? opts.backlog,
        write: (t) => process.stdout.write(t),
        warn: (l) => process.stderr.write(`${l}\n`),
      });
    } finally {
      store.close();
    }
  });
  return cmd;
}
