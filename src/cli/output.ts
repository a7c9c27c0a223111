// Printing for the query commands: kubectl-like aligned tables, JSON and YAML, ages and
// latencies in kubectl's style, colour only on a terminal (NO_COLOR honoured).
import { stringify } from "yaml";
import { UserError } from "../errors.js";

export type OutputFormat = "table" | "wide" | "json" | "yaml";

export function checkFormat(value: string, allowed: OutputFormat[]): OutputFormat {
  if (!(allowed as string[]).includes(value)) throw new UserError(`-o ${value} is not supported here; choose one of: ${allowed.join(", ")}`);
  return value as OutputFormat;
}

export function table(headers: string[], rows: string[][], noHeaders = false): string {
  const all = noHeaders ? rows : [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("   ").trimEnd()).join("\n") + (all.length ? "\n" : "");
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function yaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
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

export function paint(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Paint {
  const on = !!stream.isTTY && !("NO_COLOR" in env) && env.TERM !== "dumb";
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap("31"), yellow: wrap("33"), green: wrap("32"), dim: wrap("2"), bold: wrap("1") };
}
