// Printing for the query commands: kubectl-like aligned tables, JSON and YAML, ages and
// latencies in kubectl's style, colour only on a terminal (NO_COLOR honoured), and the
// escaping of terminal control characters in anything that came from the wire.
import { stringify } from "yaml";

export function table(headers: string[], rows: string[][], noHeaders = false): string {
  const all = noHeaders ? rows : [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("   ").trimEnd()).join("\n") + (all.length ? "\n" : "");
}

/** JSON for a terminal or a pipe: the same data, with the control characters JSON leaves raw written as \\u escapes. */
export function json(value: unknown, indent = 2): string {
  return `${jsonSafe(JSON.stringify(value, null, indent))}\n`;
}

/** YAML for a terminal: wire strings escaped first (YAML would print C1 and bidi characters raw). */
export function yaml(value: unknown): string {
  return stringify(escapeDeep(value), { lineWidth: 0 });
}

/** kubectl's HumanDuration: 45s, 5m, 3h12m, 2d4h, 400d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  return `${d}d`;
}

export function latency(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}KiB`;
  return `${(n / 1024 / 1024).toFixed(1)}MiB`;
}

export interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function paint(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Paint {
  const on = !!stream.isTTY && !("NO_COLOR" in env) && env.TERM !== "dumb";
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap("31"), yellow: wrap("33"), green: wrap("32"), dim: wrap("2"), bold: wrap("1") };
}

/**
 * Control characters a terminal would act on (ESC sequences, the rest of C0 but tab and newline,
 * DEL, C1, and the bidirectional overrides that reorder what is shown), for text from the wire.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const CONTROLS = new RegExp(CONTROL.source, "g");
/** What JSON.stringify leaves raw (it escapes only C0). */
const JSON_RAW = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function jsonSafe(text: string): string {
  return text.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Wire text made safe to print: each control character shown as `\xHH` (or `\uHHHH`), never sent raw. */
export function escapeTerminal(text: string): string {
  if (!CONTROL.test(text)) return text;
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** A copy of a value with every string in it (keys included) passed through escapeTerminal. */
export function escapeDeep<T>(value: T): T {
  if (typeof value === "string") return escapeTerminal(value) as T;
  if (Array.isArray(value)) return value.map(escapeDeep) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [escapeTerminal(k), escapeDeep(v)])) as T;
  return value;
}
