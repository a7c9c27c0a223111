// `kubewire replay`: sends recorded requests again (with the current or another context's
// credentials, or impersonating someone) through a recording proxy, and compares before/after.
import { Command, InvalidArgumentError, Option } from "commander";
import { plural } from "../../analyze/lib/util.js";
import { UserError } from "../../errors.js";
import type { Comparison } from "../../replay/compare.js";
import type { Planned } from "../../replay/replay-run.js";
import { mutationReason, planReplay, type PolicyOptions } from "../../replay/safety-policy.js";
import { selectRows } from "../../replay/select.js";
import type { ListFilter } from "../../store/store.js";
import { addDbOption, openRecording } from "../db-option.js";
import { parseDuration } from "../durations.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { checkFormat, json, latency, paint, type Paint } from "../output.js";

interface ReplayOptions {
  ids: number[];
  failed: boolean;
  filter: ListFilter;
  policy: PolicyOptions;
  kubeconfig?: string;
  context?: string;
  db?: string;
  stateDir?: string;
  dryRun: boolean;
  concurrency: number;
  timeoutMs: number;
  format: "table" | "json";
}

interface Refused {
  id: number;
  method: string;
  path: string;
  query: string;
  reason: string;
}

const whole = (flag: string, min: number, max: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${flag} "${v}" must be a whole number from ${min} to ${max}`);
  return Number(v);
};

export function makeReplayCommand(): Command {
  const cmd = new Command("replay")
    .description("Send recorded requests again and compare: does what failed now succeed?")
    .argument("[ids...]", "exchange IDs (from kubewire ls)", (v: string, prev: number[] = []) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not an exchange ID (a number from kubewire ls)`);
      return [...prev, Number(v)];
    })
    .option("--failed", "every recorded exchange that failed (no response, or status 400 and above)")
    .option("--kubeconfig <path>", "kubeconfig to read (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--as <user>", "impersonate this user or service account (Impersonate-User)")
    .option("--as-group <group>", "impersonate this group, with --as (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--allow-mutations", "also replay create, update, patch, delete, deletecollection and exec/attach/port-forward")
    .addOption(new Option("--watch-seconds <n>", "how long a replayed watch or stream stays open").default(5).argParser(whole("--watch-seconds", 1, 300)))
    .addOption(new Option("--concurrency <n>", "replays in flight at once").default(4).argParser(whole("--concurrency", 1, 64)))
    .addOption(new Option("--request-timeout <duration>", "give up on one replayed request after this long").default(30_000, "30s").argParser(parseDuration))
    .option("--dry-run", "show what would be sent, send nothing")
    .addOption(new Option("-o, --output <format>", "table or json").default("table"))
    .addHelpText(
      "after",
      `
Examples:
  kubewire replay --failed                          # with the current context's credentials
  kubewire replay --failed --context admin          # after fixing RBAC: 403 → 200?
  kubewire replay 42 57 --as system:serviceaccount:ci:deployer
  kubewire replay --verb delete --allow-mutations --dry-run`,
    );
  addFilterOptions(addDbOption(cmd));
  const context = cmd.options.find((o) => o.long === "--context");
  if (context) context.description = "kubeconfig context whose credentials the replay uses (default: current-context)";
  cmd.action(async (ids: number[] | undefined, opts: Record<string, any>) => {
    const o = complete(ids ?? [], opts);
    validate(o);
    process.exitCode = await run(o, process.stdout, (l) => process.stderr.write(`${l}\n`));
  });
  return cmd;
}

function complete(ids: number[], opts: Record<string, any>): ReplayOptions {
  const filter = filterFrom(opts);
  delete filter.context; // --context chooses credentials here, not recorded rows
  return {
    ids,
    failed: !!opts.failed,
    filter,
    policy: { allowMutations: !!opts.allowMutations, watchSeconds: opts.watchSeconds, as: opts.as, asGroups: opts.asGroup ?? [] },
    kubeconfig: opts.kubeconfig,
    context: opts.context,
    db: opts.db,
    stateDir: opts.stateDir,
    dryRun: !!opts.dryRun,
    concurrency: opts.concurrency,
    timeoutMs: opts.requestTimeout,
    format: checkFormat(opts.output, ["table", "json"]) as "table" | "json",
  };
}

function validate(o: ReplayOptions): void {
  if (o.ids.length === 0 && !o.failed && Object.keys(o.filter).length === 0) {
    throw new UserError("say what to replay: exchange IDs, --failed, or ls filters such as --status 403", "kubewire replay --failed");
  }
  if (o.policy.asGroups.length > 0 && !o.policy.as) throw new UserError("--as-group needs --as: Kubernetes impersonates groups only together with a user");
  if (o.policy.as === "") throw new UserError("--as needs a user name (for example system:serviceaccount:NAMESPACE:NAME)");
}

async function run(o: ReplayOptions, out: NodeJS.WriteStream, warn: (l: string) => void): Promise<number> {
  const store = openRecording(o);
  const planned: Planned[] = [];
  const refused: Refused[] = [];
  let selected = 0;
  try {
    const rows = selectRows(store, { ids: o.ids, failed: o.failed, filter: o.filter });
    selected = rows.length;
    for (const row of rows) {
      const ex = store.get(row.id)!;
      const plan = planReplay(ex, o.policy);
      if (plan.kind === "send") planned.push({ original: ex, flags: row.flags, plan });
      else refused.push({ id: row.id, method: ex.request.method, path: ex.request.path, query: ex.request.query, reason: plan.reason });
    }
  } finally {
    store.close();
  }
  const p = paint(out);
  if (selected === 0) {
    if (o.format === "json") out.write(json({ replayed: [], refused: [], summary: summary([], refused, 0) }));
    else out.write("nothing to replay: no recorded exchange matches\n");
    return 0;
  }
  if (o.dryRun) {
    const { loadKubeconfig } = await import("../../kubeconfig/load.js"); // loads client-node: only when needed
    const loaded = loadKubeconfig({ kubeconfig: o.kubeconfig, context: o.context });
    if (o.format === "json") out.write(json({ dryRun: true, context: loaded.contextName, wouldSend: planned.map(dryRunData), refused }));
    else out.write(renderDryRun(planned, refused, loaded.contextName, o, p));
    return 0;
  }
  if (planned.length === 0) {
    if (o.format === "json") out.write(json({ replayed: [], refused, summary: summary([], refused, selected) }));
    else out.write(`${refused.map((r) => renderRefused(r, p)).join("")}\nnothing replayed: all ${plural(selected, "selected request was", "selected requests were")} refused\n`);
    return 1;
  }
  const { runReplays } = await import("../../replay/replay-run.js");
  const result = await runReplays(planned, { ...o, watchSeconds: o.policy.watchSeconds, warn });
  const comparisons = result.comparisons;
  if (o.format === "json") {
    out.write(json({ context: result.context, user: result.user, server: result.server, replayed: comparisons.map((c) => ({ ...c, replayId: c.after.id })), refused, summary: summary(comparisons, refused, selected) }));
  } else {
    const who = o.policy.as ? `, impersonating ${o.policy.as}${o.policy.asGroups.length ? ` (groups ${o.policy.asGroups.join(", ")})` : ""}` : "";
    out.write(`Replaying ${plural(planned.length, "request")} with context ${result.context} (user ${result.user}${who}) at ${result.server}\n\n`);
    for (const c of comparisons) out.write(renderComparison(c, p));
    for (const r of refused) out.write(renderRefused(r, p));
    const s = summary(comparisons, refused, selected);
    out.write(`\n${s.replayed} replayed: ${s.succeeded} now succeed${s.succeeded === 1 ? "s" : ""}, ${s.failed} still fail${s.failed === 1 ? "s" : ""}${s.refused ? `; ${s.refused} refused` : ""}\n`);
  }
  return comparisons.every((c) => c.succeeds) ? 0 : 1;
}

function summary(comparisons: Comparison[], refused: Refused[], selected: number) {
  const succeeded = comparisons.filter((c) => c.succeeds).length;
  return { selected, replayed: comparisons.length, succeeded, failed: comparisons.length - succeeded, refused: refused.length };
}

function requestLine(id: number, method: string, path: string, query: string): string {
  return `#${id} ${method || "(no request)"} ${path}${query ? `?${query}` : ""}`;
}

function statusText(s: Comparison["before"]): string {
  if (s.status === null) return s.error ?? "no response";
  return s.error ? `${s.status} ${s.error}` : String(s.status);
}

function renderComparison(c: Comparison, p: Paint): string {
  const lines = [p.bold(requestLine(c.id, c.method, c.path, c.query))];
  const verdict = c.succeeds ? p.green("now succeeds") : p.red("still fails");
  lines.push(`   status   ${statusText(c.before)} → ${statusText(c.after)}   ${verdict}`);
  const ms = (v: number | null) => (v === null ? "-" : latency(v));
  lines.push(`   latency  ${ms(c.before.latencyMs)} → ${ms(c.after.latencyMs)}`);
  lines.push(`   chain    ${c.chainChanged === null ? "not recorded on both sides" : c.chainChanged ? p.yellow("CHANGED") : "unchanged"}`);
  if (c.flagsGone.length || c.flagsAppeared.length) {
    const parts = [c.flagsGone.length ? `gone: ${c.flagsGone.join(", ")}` : "", c.flagsAppeared.length ? `new: ${c.flagsAppeared.join(", ")}` : ""].filter(Boolean);
    lines.push(`   flags    ${parts.join("; ")}`);
  }
  lines.push(`   body     ${c.bodyDiff}`);
  lines.push(`   replay   ${c.after.id === null ? `not recorded${c.after.error ? ` (${c.after.error})` : ""}` : `recorded as #${c.after.id}`}`);
  return `${lines.join("\n")}\n`;
}

function renderRefused(r: Refused, p: Paint): string {
  return `${p.bold(requestLine(r.id, r.method, r.path, r.query))}\n   ${p.yellow("refused")}  ${r.reason}\n`;
}

function dryRunData(it: Planned) {
  const { plan } = it;
  return {
    id: it.original.id,
    method: plan.method,
    path: plan.path,
    query: plan.query,
    mode: plan.mode,
    headers: plan.headers,
    body: plan.body ? (it.original.request.body?.encoding === "base64" ? { encoding: "base64", data: plan.body.toString("base64") } : { encoding: "utf8", data: plan.body.toString("utf8") }) : null,
    changes: plan.changes,
  };
}

function renderDryRun(planned: Planned[], refused: Refused[], context: string, o: ReplayOptions, p: Paint): string {
  const out = [`Would replay ${plural(planned.length, "request")} with the credentials of context ${context} (dry run: nothing is sent)`, ""];
  for (const it of planned) {
    const { plan } = it;
    out.push(p.bold(requestLine(it.original.id!, plan.method, plan.path, plan.query)));
    for (const [k, v] of Object.entries(plan.headers)) out.push(`   ${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
    out.push(`   authorization: (credentials of context ${context})`);
    if (plan.body) out.push(`   body: ${plan.body.length} bytes${it.original.request.body?.encoding === "utf8" ? `: ${preview(plan.body.toString("utf8"))}` : " (binary)"}`);
    for (const change of plan.changes) out.push(`   note: ${change}`);
  }
  for (const r of refused) out.push(renderRefused(r, p).trimEnd());
  if (o.policy.allowMutations && planned.some((it) => mutationReason(it.original) !== null)) out.push("", p.yellow("--allow-mutations: requests above that change state WILL change the cluster when sent"));
  return `${out.join("\n")}\n`;
}

function preview(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}
