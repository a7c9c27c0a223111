// `kubewire flags` (alias `diagnose`): what is wrong in the recorded exchanges and what to do,
// grouped by kind; exits 1 when an error-severity problem is present, so it can gate CI.
import { Command, Option } from "commander";
import { rules } from "../../analyze/index.js";
import type { Finding } from "../../types.js";
import { Store, type ListFilter } from "../../store/store.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { credentialFacts } from "../credential-facts.js";
import { kubeconfigFiles } from "../../kubeconfig/read.js";
import type { CredentialFacts } from "../../analyze/lib/rule.js";
import { diagnose } from "../diagnose.js";
import { addFilterOptions, listingFrom, type ListingOptions, validateListing } from "../list-filters.js";
import { escapeDeep, json, paint, table, yaml, type Paint } from "../../format/output.js";
import { printList, sortBy } from "../../format/printers.js";
import { actionOf, type CommandSteps } from "../command-shape.js";
import { sourceLabel } from "../../store/source-selector.js";

export function makeFlagsCommand(): Command {
  const kinds = rules.map((r) => `  ${r.kind.padEnd(24)} ${r.severity.padEnd(8)} ${r.help}`).join("\n");
  const cmd = new Command("flags")
    .alias("diagnose")
    .description("What is wrong in the recorded traffic, and what to do about it (exit 1 on errors)")
    .addOption(new Option("-o, --output <format>", "table, json, yaml, name (one kind a line), jsonpath=TEMPLATE or custom-columns=SPEC").default("table"))
    .option("--sort-by <jsonpath>", "order the findings by a field of the -o json shape, e.g. .count (default: errors first)")
    .option("--no-headers", "omit the header row of custom-columns")
    .option("--kubeconfig <path>", "kubeconfig to read credentials from, to explain 401s and expiry (default: $KUBECONFIG, else ~/.kube/config)")
    .addHelpText(
      "after",
      `
Kinds (--flag KIND shows one):
${kinds}

Examples:
  kubewire flags
  kubewire flags --since 1h -o json | jq '.[].kind'
  kubewire flags -o name                   # the kinds found, one a line
  kubewire flags -o custom-columns=KIND:.kind,COUNT:.count,IDS:.requestIds --sort-by .count
  kubewire diagnose --flag forbidden
  kubewire flags --source run=7f3a9c1e     # one recording run of a shared database
  kubewire flags --context prod --kubeconfig ~/.kube/prod.yaml || exit 1`,
    );
  addFilterOptions(addDbOption(cmd)).action(actionOf(flagsSteps));
  return cmd;
}

export interface FlagsOptions extends ListingOptions {
  /** the filter named nothing but --flag: the pass covers the whole recording, so set kinds are stored */
  whole: boolean;
  kubeconfig?: string;
}

export const flagsSteps: CommandSteps<FlagsOptions> = {
  complete({ opts }) {
    const listing = listingFrom(opts, ["table", "json", "yaml", "name"]);
    const whole = isWholeRecording(listing.filter);
    // kubewire's own replays and doctor probes are not your program's failures: judged only when asked for
    listing.filter.origin ??= ["proxy", "import"];
    return { ...listing, whole, kubeconfig: opts.kubeconfig };
  },
  validate: validateListing,
  run(o, { out }) {
    const only = o.filter.flag ? [o.filter.flag] : undefined; // filterFrom checked the kind
    const store = openRecording(o.recording);
    let result;
    try {
      const credentials = credentialFacts(o.kubeconfig);
      const ctx = { now: Date.now(), credentials, kubeconfigRead: kubeconfigRead(o.kubeconfig, credentials) };
      result = diagnose(store, o.filter, ctx, only);
    } finally {
      store.close();
    }
    if (o.whole) persistSetFlags(store.path, result.setFlags);
    const findings = o.sortBy ? sortBy(result.findings, o.sortBy) : result.findings;
    out.write(
      o.printer ? printList(o.printer, findings, o.noHeaders)
      : o.format === "json" ? json(findings)
      : o.format === "yaml" ? yaml(findings)
      : o.format === "name" ? findings.map((f) => `${f.kind}\n`).join("")
      : renderFindings(findings, result.examined, paint(out)),
    );
    return result.findings.some((f) => f.severity === "error") ? 1 : undefined;
  },
};

/** Which kubeconfig the credential facts came from, as a message names it when a recorded context is not there. */
function kubeconfigRead(kubeconfig: string | undefined, facts: Map<string, CredentialFacts>): string {
  const first = facts.values().next().value;
  if (first) return first.source;
  try {
    return kubeconfigFiles(kubeconfig).join(", ");
  } catch (err) {
    return `none: ${(err as Error).message}`;
  }
}

function isWholeRecording(filter: ListFilter): boolean {
  return Object.entries(filter).every(([k, v]) => k === "flag" || v === undefined);
}

/**
 * Stores the whole-set kinds (slow, retry-storm) as row flags, so `ls --flag slow` finds them.
 * Only after a pass over the whole recording, and only when the file is writable; a reader
 * that cannot write (read-only file, a long write lock) still answers.
 */
function persistSetFlags(path: string, setFlags: Map<string, number[]>): void {
  if (setFlags.size === 0) return;
  let store: Store | null = null;
  try {
    store = Store.open(path, { create: false, busyTimeoutMs: 200 });
    const s = store;
    s.transaction(() => {
      for (const [kind, ids] of setFlags) s.replaceFlagKind(kind, ids);
    });
  } catch {
    // flags are a convenience for ls; the findings were printed either way
  } finally {
    store?.close();
  }
}

/** The sources of a finding as the SOURCE column writes them (RUN@HOST), the first `max` and how many more. */
function sourcesText(f: Finding, max: number): string {
  const labels = (f.sources ?? []).map(sourceLabel);
  if (labels.length === 0) return "-";
  return labels.slice(0, max).join(", ") + (labels.length > max ? ` +${labels.length - max} more` : "");
}

function renderFindings(wireFindings: Finding[], examined: number, p: Paint): string {
  const findings = escapeDeep(wireFindings); // messages and evidence quote the API server
  if (findings.length === 0) return `No problems found in ${examined} recorded exchange${examined === 1 ? "" : "s"}.\n`;
  const out: string[] = [];
  // a short table first (one line a kind), then each kind explained; where they were recorded when the store holds several sources
  const several = findings.some((f) => f.sources);
  out.push(table(
    ["KIND", "SEVERITY", "EXCHANGES", "FIRST SEEN", "LAST SEEN", ...(several ? ["SOURCES"] : [])],
    findings.map((f) => [f.kind, f.severity, String(f.count), f.firstSeen, f.lastSeen, ...(several ? [sourcesText(f, 3)] : [])]),
  ));
  for (const f of findings) {
    const sev = f.severity === "error" ? p.red("ERROR") : f.severity === "warning" ? p.yellow("WARNING") : "INFO";
    const ids = f.requestIds.join(", ") + (f.count > f.requestIds.length ? `, ... (${f.count - f.requestIds.length} more)` : "");
    out.push(`${p.bold(f.kind)}  ${sev}  ${f.count} exchange${f.count === 1 ? "" : "s"}  ${f.firstSeen} .. ${f.lastSeen}  IDs ${ids}`);
    out.push(`  ${f.message}`);
    if (f.sources) out.push(`  Recorded at: ${sourcesText(f, 20)}`);
    if (f.evidence.length) {
      out.push("  Evidence:");
      for (const e of f.evidence) out.push(`    - ${e}`);
    }
    if (f.advice.length) {
      out.push("  What to do:");
      for (const a of f.advice) {
        if (a.includes("\n")) out.push(...a.split("\n").map((l) => `      ${l}`));
        else out.push(`    - ${a}`);
      }
    }
    out.push("");
  }
  return out.join("\n");
}
