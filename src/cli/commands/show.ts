// `kubewire show ID`: everything recorded for one exchange, as a readable page or as data.
import { Command, InvalidArgumentError, Option } from "commander";
import { UserError } from "../../errors.js";
import type { CapturedBody, Exchange, Headers } from "../../types.js";
import { addDbOption, openRecording } from "../db-option.js";
import { bytes, checkFormat, json, latency, paint, yaml, type Paint } from "../output.js";
import { rules } from "../../analyze/index.js";
import { isExchangeRule } from "../../analyze/lib/rule.js";
import { credentialFacts } from "../credential-facts.js";

export function makeShowCommand(): Command {
  const cmd = new Command("show")
    .description("Show everything recorded for one exchange")
    .argument("<id>", "exchange ID (from kubewire ls)", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not an exchange ID (a number from kubewire ls)`);
      return Number(v);
    })
    .addOption(new Option("-o, --output <format>", "page, json or yaml").default("page"))
    .addHelpText(
      "after",
      `
Examples:
  kubewire show 42
  kubewire show 42 -o json | jq .tls.chain`,
    );
  addDbOption(cmd).action((id: number, opts) => {
    const format = opts.output === "page" ? "page" : checkFormat(opts.output, ["json", "yaml"]);
    const store = openRecording(opts);
    try {
      const ex = store.get(id);
      if (!ex) throw new UserError(`no exchange with ID ${id} in ${store.path}`, "list them with: kubewire ls");
      const kinds = store.list({ ids: [id] })[0]?.flags ?? [];
      const flags = explainFlags(ex, kinds);
      const data = { ...showData(ex), flags };
      if (format === "json") process.stdout.write(json(data));
      else if (format === "yaml") process.stdout.write(yaml(data));
      else process.stdout.write(renderPage(ex, paint(process.stdout), flags));
    } finally {
      store.close();
    }
  });
  return cmd;
}

export interface ShownFlag {
  kind: string;
  severity: string;
  message: string;
  advice: string[];
}

/** Each flag raised on the exchange, explained for this exchange alone (whole-set kinds by their help line). */
export function explainFlags(ex: Exchange, kinds: string[]): ShownFlag[] {
  let credentials: ReturnType<typeof credentialFacts> | null = null;
  return kinds.flatMap((kind): ShownFlag[] => {
    const rule = rules.find((r) => r.kind === kind);
    if (!rule) return [{ kind, severity: "info", message: "a kind this kubewire build does not know", advice: [] }];
    if (!isExchangeRule(rule)) return [{ kind, severity: rule.severity, message: `${rule.help}.`, advice: [`see kubewire flags --flag ${kind}`] }];
    if (kind === "unauthorized") credentials ??= safeFacts();
    const f = rule.explain([ex], { now: Date.now(), credentials: credentials ?? new Map() });
    return [{ kind, severity: f.severity, message: f.message, advice: f.advice }];
  });
}

function safeFacts(): ReturnType<typeof credentialFacts> {
  try {
    return credentialFacts();
  } catch {
    return new Map();
  }
}

/** The `show -o json` shape: the Exchange with its id and an ISO time first. */
export function showData(ex: Exchange): Record<string, unknown> {
  return { id: ex.id, time: new Date(ex.startedAt).toISOString(), ...ex };
}

function bodyPreview(body: CapturedBody | null, maxLines = 40): string[] {
  if (!body) return ["(none)"];
  if (body.encoding === "base64") return [`(${bytes(body.size)} of binary data${body.truncated ? ", truncated" : ""})`];
  let text = body.data;
  try {
    if (!body.truncated && /^\s*[[{]/.test(text) && !text.trim().includes("\n")) text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON: show as is */
  }
  const lines = text.split("\n");
  const shown = lines.slice(0, maxLines);
  if (lines.length > maxLines) shown.push(`... (${lines.length - maxLines} more lines)`);
  if (body.truncated) shown.push(`... (truncated: ${bytes(body.size)} on the wire)`);
  return shown;
}

function headerLines(h: Headers): string[] {
  return Object.entries(h).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
}

export function replayCommand(ex: Exchange): string {
  const url = ex.request.path + (ex.request.query ? `?${ex.request.query}` : "");
  const ctx = ex.context ? ` --context ${ex.context}` : "";
  switch (ex.request.method) {
    case "GET":
      if (ex.info.verb !== "watch") return `kubectl${ctx} get --raw '${url}'`;
      break;
    case "DELETE":
      return `kubectl${ctx} delete --raw '${url}'`;
    case "POST":
      return `kubectl${ctx} create --raw '${url}' -f body.json`;
    case "PUT":
      return `kubectl${ctx} replace --raw '${url}' -f body.json`;
  }
  return `curl --cacert ca.crt -H "Authorization: Bearer $TOKEN" -X ${ex.request.method} '${ex.clusterUrl}${url}'`;
}

function waterfall(ex: Exchange): string[] {
  const t = ex.timing;
  const total = Math.max(t.totalMs, 0.001);
  const width = 40;
  const bar = (from: number, len: number) => " ".repeat(Math.round((from / total) * width)) + "█".repeat(Math.max(len > 0 ? 1 : 0, Math.round((len / total) * width)));
  const phases: Array<[string, number, number]> = [];
  let at = 0;
  for (const [name, ms] of [["dns", t.dnsMs], ["connect", t.connectMs], ["tls", t.tlsMs]] as Array<[string, number]>) {
    phases.push([name, at, ms]);
    at += ms;
  }
  const wait = Math.max(0, t.ttfbMs - at);
  phases.push(["wait", at, wait]);
  phases.push(["receive", t.ttfbMs, Math.max(0, t.totalMs - t.ttfbMs)]);
  const lines = phases.map(([n, from, ms]) => `  ${n.padEnd(8)} ${latency(ms).padStart(9)}  ${bar(from, ms)}`);
  lines.push(`  ${"total".padEnd(8)} ${latency(t.totalMs).padStart(9)}${t.reusedConnection ? "  (reused connection: no DNS, connect or TLS)" : ""}`);
  return lines;
}

export function renderPage(ex: Exchange, p: Paint, flags: ShownFlag[] = []): string {
  const out: string[] = [];
  const section = (title: string) => out.push("", p.bold(title));
  const status = ex.response ? `${ex.response.status}${ex.response.fromProxy ? " (answered by kubewire)" : ""}` : "no response";
  out.push(p.bold(`Exchange ${ex.id}`) + `  ${new Date(ex.startedAt).toISOString()}`);
  out.push(`${ex.request.method || "(no request)"} ${ex.request.path}${ex.request.query ? `?${ex.request.query}` : ""}`);
  out.push(`Status:   ${ex.error || (ex.response?.status ?? 0) >= 400 ? p.red(status) : p.green(status)}`);
  if (ex.error) out.push(`Error:    ${p.red(`${ex.error.code}${ex.error.phase ? ` (${ex.error.phase})` : ""}: ${ex.error.message}`)}`);
  if (ex.injected) out.push(`Injected: ${p.yellow(`${ex.injected.action} by fault rule ${ex.injected.rule}`)} (kubewire did this on purpose)`); // fault:
  out.push(`Context:  ${ex.context}  cluster ${ex.clusterUrl}  user ${ex.kubeUser || "-"}`);
  out.push(`Client:   ${ex.client.address}  ${ex.client.userAgent}`);
  if (flags.length) {
    section("Flags");
    for (const f of flags) {
      out.push(`  ${f.severity === "error" ? p.red(f.kind) : p.yellow(f.kind)} (${f.severity}): ${f.message}`);
      for (const a of f.advice) out.push(...a.split("\n").map((l, i) => (i === 0 ? `    - ${l}` : `      ${l}`)));
    }
  }
  const i = ex.info;
  section("Kubernetes request");
  if (i.isResourceRequest) {
    out.push(`  verb ${i.verb}  resource ${i.resource}${i.subresource ? `/${i.subresource}` : ""}  group ${i.apiGroup || '""'}  version ${i.apiVersion}`);
    out.push(`  namespace ${i.namespace || "-"}  name ${i.name || "-"}`);
  } else out.push(`  non-resource request (${i.verb || "-"})`);
  section("Timing");
  out.push(...waterfall(ex));
  if (ex.stream) {
    section("Stream");
    out.push(`  ${ex.stream.kind}: ${ex.stream.events} events, ${bytes(ex.stream.bytesIn)} in, ${bytes(ex.stream.bytesOut)} out, ${latency(ex.stream.durationMs)}, ended by ${ex.stream.endedBy}`);
  }
  section("Upstream TLS");
  if (!ex.tls) out.push("  (none recorded)");
  else {
    out.push(`  ${ex.tls.protocol ?? "?"} ${ex.tls.cipher ?? ""} alpn ${ex.tls.alpn || "-"}${ex.tls.resumed ? " (resumed)" : ""}`);
    ex.tls.chain.forEach((c, n) => {
      const expired = Date.parse(c.notAfter) < Date.now();
      const early = Date.parse(c.notBefore) > Date.now();
      out.push(`  [${n}] ${c.subject}`);
      out.push(`      issuer ${c.issuer}`);
      out.push(`      valid ${c.notBefore} → ${c.notAfter}${expired ? p.red("  EXPIRED") : early ? p.red("  NOT YET VALID") : ""}`);
      if (c.san.length) out.push(`      SANs ${c.san.join(", ")}`);
      out.push(`      sha256 ${c.sha256}`);
    });
  }
  section("Request headers");
  out.push(...headerLines(ex.request.headers).map((l) => `  ${l}`));
  section(`Request body (${bytes(ex.request.bytes)})`);
  out.push(...bodyPreview(ex.request.body).map((l) => `  ${l}`));
  if (ex.response) {
    section("Response headers");
    out.push(...headerLines(ex.response.headers).map((l) => `  ${l}`));
    section(`Response body (${bytes(ex.response.bytes)})`);
    out.push(...bodyPreview(ex.response.body).map((l) => `  ${l}`));
  }
  if (ex.request.method) {
    section("Same request by hand");
    out.push(`  ${replayCommand(ex)}`);
  }
  return `${out.join("\n")}\n`;
}
