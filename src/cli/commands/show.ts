// `kubewire show ID`: everything recorded for one exchange, as a readable page or as data.
import { Command, InvalidArgumentError, Option } from "commander";
import { UserError } from "../../errors.js";
import type { CapturedBody, Exchange, Headers } from "../../types.js";
import { addDbOption } from "../db-option.js";
import { openRecording } from "../open-recording.js";
import { outputOf, printObject, type Printer } from "../../format/printers.js";
import { actionOf, type CommandSteps } from "../command-shape.js";
import { bytes, escapeDeep, escapeTerminal, json, latency, paint, yaml, type Paint } from "../../format/output.js";
import { protobufText } from "../../proxy/protobuf.js";
import { credentialFacts } from "../credential-facts.js";
import { explainFlags, replayCommand, showData, type ShownFlag } from "../../report/exchange-report.js";
import { warningTexts } from "../../analyze/lib/warnings.js";
import { requestKey } from "../../analyze/lib/util.js";
import type { Store } from "../../store/store.js";

export function makeShowCommand(): Command {
  const cmd = new Command("show")
    .description("Show everything recorded for one exchange")
    .argument("<id>", "exchange ID (from kubewire ls)", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not an exchange ID (a number from kubewire ls)`);
      return Number(v);
    })
    .addOption(new Option("-o, --output <format>", "page, json, yaml, jsonpath=TEMPLATE or custom-columns=SPEC (over the -o json shape)").default("page"))
    .addHelpText(
      "after",
      `
Examples:
  kubewire show 42
  kubewire show 42 -o json | jq .tls.chain
  kubewire show 42 -o jsonpath='{.response.status}{"\n"}'`,
    );
  addDbOption(cmd).action(actionOf(showSteps));
  return cmd;
}

export interface ShowOptions {
  recording: { db?: string; stateDir?: string };
  id: number;
  format: string;
  printer?: Printer;
}

export const showSteps: CommandSteps<ShowOptions> = {
  complete({ args, opts }) {
    const { format, printer } = outputOf(opts.output ?? "page", ["page", "json", "yaml"]);
    return { recording: { db: opts.db, stateDir: opts.stateDir }, id: Number(args[0]), format, printer };
  },
  validate(o) {
    if (!Number.isInteger(o.id) || o.id < 0) throw new UserError(`"${o.id}" is not an exchange ID (a number from kubewire ls)`);
  },
  run(o, { out }) {
    const store = openRecording(o.recording);
    try {
      const ex = store.get(o.id);
      if (!ex) throw new UserError(`no exchange with ID ${o.id} in ${store.path}`, "list them with: kubewire ls");
      const kinds = store.list({ ids: [o.id] })[0]?.flags ?? [];
      const flags = explainFlags(ex, kinds, safeFacts, kinds.includes("throttled") ? sameRequestThrottled(store, ex) : undefined);
      const data = { ...showData(ex), flags };
      if (o.printer) out.write(printObject(o.printer, data));
      else if (o.format === "json") out.write(json(data));
      else if (o.format === "yaml") out.write(yaml(data));
      else out.write(renderPage(ex, paint(out), flags));
    } finally {
      store.close();
    }
  },
};

/** The throttled exchanges of the same request, oldest first: whether a 429 was retried is read from them, as flags does. */
function sameRequestThrottled(store: Store, ex: Exchange): Exchange[] {
  const key = requestKey({ ...ex.request, context: ex.context });
  const rows = store.list({ flag: "throttled", context: ex.context, pathContains: ex.request.path }).filter((r) => requestKey(r) === key);
  return rows.slice(0, 50).map((r) => store.get(r.id)!);
}

function safeFacts(): ReturnType<typeof credentialFacts> {
  try {
    return credentialFacts();
  } catch {
    return new Map();
  }
}

function bodyPreview(body: CapturedBody | null, contentType: string | undefined, maxLines = 40): string[] {
  if (!body) return ["(none)"];
  const tree = protobufText(body, contentType);
  if (tree !== null) return cut(tree.split("\n"), maxLines, body);
  if (body.encoding === "base64") return [`(${bytes(body.size)} of binary data${body.truncated ? ", truncated" : ""})`];
  let text = body.data;
  try {
    if (!body.truncated && /^\s*[[{]/.test(text) && !text.trim().includes("\n")) text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON: show as is */
  }
  return cut(text.split("\n"), maxLines, body);
}

function cut(lines: string[], maxLines: number, body: CapturedBody): string[] {
  const shown = lines.slice(0, maxLines).map(escapeTerminal); // JSON.parse may have turned \\u escapes back into controls
  if (lines.length > maxLines) shown.push(`... (${lines.length - maxLines} more lines)`);
  if (body.truncated) shown.push(`... (truncated: ${bytes(body.size)}${body.sizeIsLowerBound ? " or more" : ""} in all)`);
  return shown;
}

/** "12.0KiB", or "600.0KiB (45.2KiB as gzip on the wire)" for a body that travelled encoded. */
function sizeText(n: number, wire: number | undefined, body: CapturedBody | null): string {
  const decoded = `${bytes(n)}${body?.sizeIsLowerBound ? " or more" : ""}`;
  if (wire === undefined || wire === n) return decoded;
  return `${decoded}, ${bytes(wire)}${body?.contentEncoding ? ` as ${body.contentEncoding}` : ""} on the wire`;
}

function contentTypeOf(h: Headers): string | undefined {
  const v = Object.entries(h).find(([k]) => k.toLowerCase() === "content-type")?.[1];
  return Array.isArray(v) ? v[0] : v;
}

function headerLines(h: Headers): string[] {
  return Object.entries(h).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`);
}

/** The waterfall bar in which an error of each recorded phase happened. */
const FAILING_PHASE: Record<string, string> = { dns: "dns", connect: "connect", tls: "tls", headers: "wait", body: "receive" };

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
  // a failure ends the bars at its phase, which holds the time to the end (a handshake that timed out took it all)
  const failedAt = phases.findIndex(([n]) => n === FAILING_PHASE[ex.error?.phase ?? ""]);
  if (failedAt >= 0) {
    const [n, from, ms] = phases[failedAt];
    phases.splice(failedAt, phases.length, [n, from, Math.max(ms, t.totalMs - from)]);
  }
  const lines = phases.map(([n, from, ms], i) => `  ${n.padEnd(8)} ${latency(ms).padStart(9)}  ${bar(from, ms)}${i === failedAt ? `  ✗ ${ex.error!.code}` : ""}`);
  lines.push(`  ${"total".padEnd(8)} ${latency(t.totalMs).padStart(9)}${t.reusedConnection ? "  (reused connection: no DNS, connect or TLS)" : ""}`);
  return lines;
}

/** Where it was recorded, each part named: host, run, pod (namespace/name) and service account. */
function sourceText(s: NonNullable<Exchange["source"]>): string {
  const parts: string[] = [];
  if (s.host) parts.push(`host ${s.host}`);
  if (s.run) parts.push(`run ${s.run}`);
  if (s.pod || s.namespace) parts.push(s.pod ? `pod ${s.namespace ? `${s.namespace}/` : ""}${s.pod}` : `namespace ${s.namespace}`);
  if (s.serviceAccount) parts.push(`service account ${s.serviceAccount}`);
  return parts.join("  ");
}

export function renderPage(wire: Exchange, p: Paint, wireFlags: ShownFlag[] = []): string {
  const ex = escapeDeep(wire); // everything recorded came from the wire: no control character reaches the terminal
  const flags = escapeDeep(wireFlags);
  const out: string[] = [];
  const section = (title: string) => out.push("", p.bold(title));
  const status = ex.response ? String(ex.response.status) : ex.proxyAnswer ? `no response from the API server; kubewire answered the client ${ex.proxyAnswer.status}` : "no response";
  out.push(p.bold(`Exchange ${ex.id}`) + `  ${new Date(ex.startedAt).toISOString()}`);
  out.push(`${ex.request.method || "(no request)"} ${ex.request.path}${ex.request.query ? `?${ex.request.query}` : ""}`);
  out.push(`Status:   ${ex.error || (ex.response?.status ?? 0) >= 400 ? p.red(status) : p.green(status)}`);
  if (ex.error) out.push(`Error:    ${p.red(`${ex.error.code}${ex.error.phase ? ` (${ex.error.phase})` : ""}: ${ex.error.message}`)}`);
  if (ex.injected) out.push(`Injected: ${p.yellow(`${ex.injected.action} by fault rule ${ex.injected.rule}`)} (kubewire did this on purpose)`); // fault:
  out.push(`Context:  ${ex.context}  cluster ${ex.clusterUrl}  user ${ex.kubeUser || "-"}`);
  out.push(`Client:   ${ex.client.address}  ${ex.client.userAgent}`);
  if (ex.source) out.push(`Source:   ${sourceText(ex.source)}`);
  if (ex.origin !== "proxy") out.push(`Origin:   ${ex.origin === "replay" ? `kubewire replay${ex.replayOf ? ` of exchange ${ex.replayOf}` : ""}` : ex.origin === "doctor" ? "a kubewire doctor probe" : "imported from a HAR file"}`);
  if (ex.repeat) out.push(`Repeated: ${ex.repeat.count} requests like this one from ${ex.client.address || "?"}, the last at ${new Date(ex.repeat.lastSeenAt).toISOString()} (headers kept from the first)`);
  if (flags.length) {
    section("Flags");
    for (const f of flags) {
      out.push(`  ${f.severity === "error" ? p.red(f.kind) : p.yellow(f.kind)} (${f.severity}): ${f.message}`);
      // a multi-line piece of advice (a manifest) is a block of its own, as flags prints it, so it can be copied as is
      for (const a of f.advice) out.push(...(a.includes("\n") ? a.split("\n").map((l) => `      ${l}`) : [`    - ${a}`]));
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
    const st = ex.stream;
    const types = Object.entries(st.eventTypes ?? {}).map(([t, n]) => `${t} ${n}`).join(", ");
    const framing = st.format === "protobuf" ? " (protobuf frames)" : "";
    out.push(`  ${st.kind}: ${st.events} events${types ? ` (${types})` : ""}${framing}, ${bytes(st.bytesIn)} in, ${bytes(st.bytesOut)} out, ${latency(st.durationMs)}, ended by ${st.endedBy}`);
    if (st.lastError) out.push(`  ${p.red(`ended with an ERROR event: ${st.lastError.code}${st.lastError.reason ? ` ${st.lastError.reason}` : ""}`)}${st.lastError.message ? `: ${st.lastError.message}` : ""}`);
  }
  const warnings = warningTexts(ex.response?.headers);
  if (warnings.length) {
    section("Warnings from the API server");
    for (const w of warnings) out.push(`  ${p.yellow(w)}`);
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
  section(`Request body (${sizeText(ex.request.bytes, ex.request.wireBytes, ex.request.body)})`);
  out.push(...bodyPreview(wire.request.body, contentTypeOf(ex.request.headers)).map((l) => `  ${l}`)); // escaped line by line, once decoded
  if (ex.response) {
    section("Response headers");
    out.push(...headerLines(ex.response.headers).map((l) => `  ${l}`));
    section(`Response body (${sizeText(ex.response.bytes, ex.response.wireBytes, ex.response.body)})`);
    out.push(...bodyPreview(wire.response!.body, contentTypeOf(ex.response.headers)).map((l) => `  ${l}`));
  }
  if (ex.proxyAnswer) {
    section(`Answered by kubewire (${ex.proxyAnswer.status}, not from the API server)`);
    out.push(...headerLines(ex.proxyAnswer.headers).map((l) => `  ${l}`));
    out.push(...bodyPreview(wire.proxyAnswer!.body, contentTypeOf(ex.proxyAnswer.headers)).map((l) => `  ${l}`));
  }
  if (ex.request.method) {
    section("Same request by hand");
    out.push(`  ${replayCommand(ex)}`);
  }
  return `${out.join("\n")}\n`;
}
