// `kubewire tail`: `ls --follow` under its own name, printing the last few first; prints exchanges
// as a running proxy records them, with the ls filters (the following itself lives in ls.ts).
import { Command, InvalidArgumentError, Option } from "commander";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { addFilterOptions, listingFrom, type ListingOptions, validateListing } from "../list-filters.js";
import { actionOf, type CommandSteps } from "../command-shape.js";
import { addFollowOptions, followListing } from "./ls.js";

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
  addFollowOptions(addFilterOptions(addDbOption(cmd))).action(actionOf(tailSteps));
  return cmd;
}

export interface TailOptions extends ListingOptions {
  intervalMs: number;
  stopAfterMs?: number;
  backlog: number;
}

export const tailSteps: CommandSteps<TailOptions> = {
  complete({ opts }) {
    const listing = listingFrom(opts, ["table", "wide", "json"]);
    return { ...listing, intervalMs: opts.interval ?? 250, stopAfterMs: opts.stopAfter, backlog: listing.filter.limit ?? opts.backlog ?? 10 };
  },
  validate: validateListing,
  async run(o, { out, err }) {
    const store = openRecording(o.recording);
    try {
      await followListing(store, o, o.backlog, { out, err });
    } finally {
      store.close();
    }
  },
};
