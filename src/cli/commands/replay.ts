// `kubewire replay`: sends recorded requests again (each to the context it was recorded with, or to
// one --context, or impersonating someone) through a recording proxy, and compares before/after.
import { Command, InvalidArgumentError, Option } from "commander";
import { plural } from "../../analyze/lib/util.js";
import { UserError } from "../../errors.js";
import type { Comparison } from "../../replay/compare.js";
import type { ReplayResult } from "../../replay/replay-run.js";
import type { DistinctRequest, PlannedSend } from "../../replay/targets.js";
import type { Exchange } from "../../types.js";
import { mutationReason, planReplay, type PolicyOptions } from "../../replay/safety-policy.js";
import { selectRows } from "../../replay/select.js";
import type { ListFilter } from "../../store/store.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { parseDuration } from "../durations.js";
import { addFilterOptions, filterFrom } from "../list-filters.js";
import { json as asJson, latency, paint, yaml, type Paint } from "../../format/output.js";
import { outputOf, printObject, type Printer } from "../../format/printers.js";
import { actionOf, lineTo, type CommandSteps, type Sink } from "../command-shape.js";

export interface ReplayOptions {
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
  format: "table" | "json" | "yaml";
  /** -o jsonpath= or custom-columns=, over what -o json prints */
  printer?: Printer;
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
    .addOption(new Option("-o, --output <format>", "table, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC (over the -o json object)").default("table"))
    .addHelpText(
      "after",
      `
Examples:
  kubewire replay --failed                          # each to the context and server it was recorded with
  kubewire replay --failed --context admin          # another user's credentials: 403 → 200?
  kubewire replay 42 57 --as system:serviceaccount:ci:deployer
  kubewire replay --verb delete --allow-mutations --dry-run`,
    );
  addFilterOptions(addDbOption(cmd));
  const context = cmd.options.find((o) => o.long === "--context");
  if (context) context.description = "send every replay to this kubeconfig context (default: the context each exchange was recorded with)";
  cmd.action(actionOf(replaySteps));
  return cmd;
}

export const replaySteps: CommandSteps<ReplayOptions> = {
  complete: ({ args, opts }) => complete((args[0] as number[] | undefined) ?? [], opts),
  validate,
  run: (o, { out, err }) => run(o, out, lineTo(err)),
};

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
    ...output(opts.output),
  };
}

/** -o: a plain format, or a template over what -o json prints ("template" prints like json, through the printer). */
function output(value: string): { format: "table" | "json" | "yaml"; printer?: Printer } {
  const { format, printer } = outputOf(value, ["table", "json", "yaml"]);
  return { format: printer ? "json" : (format as "table" | "json" | "yaml"), printer };
}

function validate(o: ReplayOptions): void {
  if (o.ids.length === 0 && !o.failed && Object.keys(o.filter).length === 0) {
    throw new UserError("say what to replay: exchange IDs, --failed, or ls filters such as --status 403", "kubewire replay --failed");
  }
  if (o.policy.asGroups.length > 0 && !o.policy.as) throw new UserError("--as-group needs --as: Kubernetes impersonates groups only together with a user");
  if (o.policy.as === "") throw new UserError("--as needs a user name (for example system:serviceaccount:NAMESPACE:NAME)");
}

async function run(o: ReplayOptions, out: Sink, warn: (l: string) => void): Promise<number> {
  const json = (value: unknown) => (o.printer ? printObject(o.printer, value) : o.format === "yaml" ? yaml(value) : asJson(value));
  const store = openRecording(o);
  const planned: PlannedSend[] = [];
  const refused: Refused[] = [];
  let selected = 0;
  try {
    const rows = selectRows(store, { ids: o.ids, failed: o.failed, filter: o.filter });
    selected = rows.length;
    for (const row of rows) {
      const ex = store.get(row.id)!;
      const plan = planReplay(ex, o.policy);
      if (plan.kind === "send") planned.push({ original: ex, flags: row.flags, plan });
      else refused.push(refusedOf(ex, plan.reason));
    }
  } finally {
    store.close();
  }
  const p = paint(out);
  if (selected === 0) {
    if (o.format !== "table") out.write(json({ replayed: [], refused: [], summary: summary([], refused, 0) }));
    else out.write("nothing to replay: no recorded exchange matches\n");
    return 0;
  }
  const { assignTargets, kubeconfigServers } = await import("../../replay/targets.js"); // loads client-node: only when needed
  const targeted = assignTargets(planned, o.context, kubeconfigServers(o.kubeconfig));
  refused.push(...targeted.refused.map((r) => refusedOf(r.original, r.reason)));
  refused.sort((a, b) => a.id - b.id);
  const distinct = targeted.distinct;
  if (o.dryRun) {
    if (o.format !== "table") out.write(json({ dryRun: true, wouldSend: distinct.map(dryRunData), refused }));
    else out.write(renderDryRun(distinct, refused, o, p));
    return 0;
  }
  if (distinct.length === 0) {
    if (o.format !== "table") out.write(json({ replayed: [], refused, summary: summary([], refused, selected) }));
    else out.write(`${refused.map((r) => renderRefused(r, p)).join("")}\nnothing replayed: all ${plural(selected, "selected request was", "selected requests were")} refused\n`);
    return 1;
  }
  const elsewhere = distinct.filter((d) => !d.sameServer);
  if (elsewhere.length > 0) {
    const servers = [...new Set(elsewhere.flatMap((d) => d.originals.map((x) => x.clusterUrl)))].join(", ");
    warn(`kubewire: WARNING: ${plural(elsewhere.length, "request was", "requests were")} recorded against ${servers}, not ${elsewhere[0].target.server} (context ${elsewhere[0].target.context}): their answers say nothing about the recorded failures and are not counted as fixes`);
  }
  const { runReplays } = await import("../../replay/replay-run.js");
  const result = await runReplays(distinct, { ...o, watchSeconds: o.policy.watchSeconds, warn });
  const results = result.results;
  const s = summary(results, refused, selected);
  if (o.format !== "table") {
    out.write(json({ sessions: result.sessions, replayed: results.map((c) => ({ ...c, replayId: c.after.id })), refused, summary: s }));
  } else {
    const who = o.policy.as ? `, impersonating ${o.policy.as}${o.policy.asGroups.length ? ` (groups ${o.policy.asGroups.join(", ")})` : ""}` : "";
    for (const session of result.sessions) {
      const mine = results.filter((c) => c.target.context === session.context);
      out.write(`Replaying ${plural(mine.length, "distinct request")} with context ${session.context} (user ${session.user}${who}) at ${session.server}\n\n`);
      for (const c of mine) out.write(renderComparison(c, p));
      out.write("\n");
    }
    for (const r of refused) out.write(renderRefused(r, p));
    out.write(`${refused.length ? "\n" : ""}${summaryLine(s)}\n`);
  }
  return results.every((c) => c.verdict === "now succeeds") ? 0 : 1;
}

function refusedOf(ex: Exchange, reason: string): Refused {
  return { id: ex.id!, method: ex.request.method, path: ex.request.path, query: ex.request.query, reason };
}

type Summary = ReturnType<typeof summary>;

function summary(results: ReplayResult[], refused: Refused[], selected: number) {
  const count = (v: ReplayResult["verdict"]) => results.filter((c) => c.verdict === v).length;
  return {
    selected,
    /** distinct requests sent */
    replayed: results.length,
    /** recorded exchanges those requests stand for */
    recorded: results.reduce((n, c) => n + c.ids.length, 0),
    succeeded: count("now succeeds"),
    failed: count("still fails"),
    otherServer: count("answered by another server"),
    refused: refused.length,
  };
}

/** "10 distinct requests (67 recorded): 7 still fail, 3 now succeed; 2 refused" */
function summaryLine(s: Summary): string {
  const parts = [
    `${s.failed} still fail${s.failed === 1 ? "s" : ""}`,
    `${s.succeeded} now succeed${s.succeeded === 1 ? "s" : ""}`,
    s.otherServer ? `${s.otherServer} answered by another server (not a fix)` : "",
  ].filter(Boolean);
  const recorded = s.recorded !== s.replayed ? ` (${s.recorded} recorded)` : "";
  return `${plural(s.replayed, "distinct request")}${recorded}: ${parts.join(", ")}${s.refused ? `; ${s.refused} refused` : ""}`;
}

function requestLine(id: number, method: string, path: string, query: string): string {
  return `#${id} ${method || "(no request)"} ${path}${query ? `?${query}` : ""}`;
}

function statusText(s: Comparison["before"]): string {
  if (s.status === null) return s.error ?? "no response";
  return s.error ? `${s.status} ${s.error}` : String(s.status);
}

function idsText(ids: number[]): string {
  if (ids.length <= 1) return "";
  const shown = ids.slice(1, 8).map((id) => `#${id}`).join(", ");
  return `   (also ${shown}${ids.length > 8 ? `, … ${ids.length - 8} more` : ""}: ${ids.length} recorded)`;
}

function renderComparison(c: ReplayResult, p: Paint): string {
  const lines = [p.bold(requestLine(c.id, c.method, c.path, c.query)) + idsText(c.ids)];
  const verdict = c.verdict === "now succeeds" ? p.green(c.verdict) : c.verdict === "still fails" ? p.red(c.verdict) : p.yellow(c.verdict);
  lines.push(`   status   ${statusText(c.before)} → ${statusText(c.after)}   ${verdict}`);
  if (!c.target.sameServer) lines.push(`   ${p.yellow("server")}   recorded against ${c.target.recordedServer} (context ${c.target.recordedContext}), sent to ${c.target.server}: not a fix`);
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

function dryRunData(it: DistinctRequest) {
  const { plan } = it;
  const original = it.originals[0];
  return {
    id: original.id,
    ids: it.originals.map((x) => x.id),
    context: it.target.context,
    server: it.target.server,
    sameServer: it.sameServer,
    method: plan.method,
    path: plan.path,
    query: plan.query,
    mode: plan.mode,
    headers: plan.headers,
    body: plan.body ? (original.request.body?.encoding === "base64" ? { encoding: "base64", data: plan.body.toString("base64") } : { encoding: "utf8", data: plan.body.toString("utf8") }) : null,
    changes: plan.changes,
  };
}

function renderDryRun(distinct: DistinctRequest[], refused: Refused[], o: ReplayOptions, p: Paint): string {
  const contexts = [...new Set(distinct.map((d) => d.target.context))];
  const out = [`Would replay ${plural(distinct.length, "distinct request")} with the credentials of context ${contexts.join(", ") || "-"} (dry run: nothing is sent)`, ""];
  for (const it of distinct) {
    const { plan } = it;
    out.push(p.bold(requestLine(it.originals[0].id!, plan.method, plan.path, plan.query)) + idsText(it.originals.map((x) => x.id!)));
    out.push(`   to: context ${it.target.context} at ${it.target.server}${it.sameServer ? "" : p.yellow(` (recorded against ${it.originals[0].clusterUrl}: not the same server)`)}`);
    for (const [k, v] of Object.entries(plan.headers)) out.push(`   ${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
    out.push(`   authorization: (credentials of context ${it.target.context})`);
    if (plan.body) out.push(`   body: ${plan.body.length} bytes${it.originals[0].request.body?.encoding === "utf8" ? `: ${preview(plan.body.toString("utf8"))}` : " (binary)"}`);
    for (const change of plan.changes) out.push(`   note: ${change}`);
  }
  for (const r of refused) out.push(renderRefused(r, p).trimEnd());
  if (o.policy.allowMutations && distinct.some((it) => mutationReason(it.originals[0]) !== null)) out.push("", p.yellow("--allow-mutations: requests above that change state WILL change the cluster when sent"));
  return `${out.join("\n")}\n`;
}

function preview(text: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}
