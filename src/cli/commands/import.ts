// `kubewire import --har FILE`: brings a HAR recorded elsewhere (a browser, another proxy, or a
// kubewire export) into the recording, redacted as kubewire records, so flags and replay apply.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { UserError } from "../../errors.js";
import { fromHarEntry } from "../../export/har-read.js";
import { Store } from "../../store/store.js";
import { flagsOf } from "../../analyze/lib/engine.js";
import { plural } from "../../analyze/lib/util.js";
import { stateDirPath } from "../../tls/state-dir.js";
import type { Exchange } from "../../types.js";
import { addDbOption } from "../db-option.js";
import { defaultDbPath } from "../../session/db-path.js";
import { actionOf, type CommandSteps } from "../command-shape.js";

export function makeImportCommand(): Command {
  const cmd = new Command("import")
    .description("Bring a HAR file recorded elsewhere into the recording")
    .requiredOption("--har <file>", "HTTP Archive (1.1 or 1.2) to read")
    .addHelpText(
      "after",
      `
Examples:
  kubewire import --har colleague.har --db ./shared.db
  kubewire import --har devtools-export.har && kubewire ls --status 4xx`,
    );
  addDbOption(cmd).action(actionOf(importSteps));
  return cmd;
}

export interface ImportOptions {
  har: string;
  recording: { db?: string; stateDir?: string };
}

export const importSteps: CommandSteps<ImportOptions> = {
  complete({ opts }) {
    return { har: opts.har, recording: { db: opts.db, stateDir: opts.stateDir } };
  },
  validate() {},
  run(o, { out }) {
    const read = readHar(o.har);
    const store = Store.open(defaultDbPath(stateDirPath(o.recording.stateDir), o.recording.db));
    let ids: number[];
    let exchanges: Exchange[];
    try {
      exchanges = notYetImported(store, read);
      ids = store.insertMany(exchanges, flagsOf); // one transaction: all or nothing
    } finally {
      store.close();
    }
    const kube = exchanges.filter((ex) => ex.info.isResourceRequest || /^\/(api|apis|version|healthz|livez|readyz|openapi)(\/|$)/.test(ex.request.path)).length;
    const range = ids.length ? ` as IDs ${ids[0]}-${ids[ids.length - 1]}` : "";
    const known = read.length - exchanges.length;
    const skipped = known ? `; ${plural(known, "exchange was", "exchanges were")} imported before and ${known === 1 ? "is" : "are"} not added again` : "";
    out.write(`imported ${plural(ids.length, "exchange")}${range} (${plural(kube, "Kubernetes API request")}) into ${store.path}${skipped}\n`);
  },
};

/** What identifies an imported exchange: its start time, request line, status and context (a HAR has no other id). */
function importKey(r: { startedAt: number; method: string; path: string; query: string; status: number | null; context: string }): string {
  return JSON.stringify([r.startedAt, r.method, r.path, r.query, r.status, r.context]);
}

/** The exchanges not already imported into this recording (importing the same HAR twice adds nothing). */
function notYetImported(store: Store, exchanges: Exchange[]): Exchange[] {
  if (exchanges.length === 0) return [];
  const since = exchanges.reduce((m, ex) => Math.min(m, ex.startedAt), Infinity);
  const until = exchanges.reduce((m, ex) => Math.max(m, ex.startedAt), -Infinity);
  const rows = store.list({ origin: "import", since, until });
  const seen = new Set(rows.map((r) => importKey({ ...r, startedAt: Date.parse(r.time) })));
  return exchanges.filter((ex) => !seen.has(importKey({ startedAt: ex.startedAt, ...ex.request, status: ex.response?.status ?? null, context: ex.context })));
}

function readHar(path: string): Exchange[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (err) {
    throw new UserError(`${path} is not JSON: ${(err as Error).message}`, "pass a HAR file saved by browser devtools, another proxy or kubewire export --har");
  }
  const entries = (doc as { log?: { entries?: unknown } })?.log?.entries;
  if (!Array.isArray(entries)) throw new UserError(`${path} is not a HAR file: it has no log.entries list`);
  return entries.map((e, i) => fromHarEntry(e, `${path}: log.entries[${i}]`));
}
