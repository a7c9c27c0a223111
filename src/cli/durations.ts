// Parses the durations and addresses people type on the command line: 500ms, 10s, 2h, 1d, 2w,
// HOST:PORT; bad input is a UserError that names the flag and quotes the value.
import { InvalidArgumentError } from "commander";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "1h30m", "500ms", "10s", "2w"; a bare number means seconds; zero is refused (no timeout, interval or age is 0). */
export function parseDuration(text: string): number {
  const ms = parseDurationOrZero(text);
  if (ms <= 0) throw new InvalidArgumentError(`"${text}" is not a positive duration (examples: 500ms, 10s, 5m, 2h)`);
  return ms;
}

function parseDurationOrZero(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== t.length) throw new InvalidArgumentError(`"${text}" is not a duration (examples: 500ms, 10s, 5m, 2h)`);
  return total;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`"${text}" is not HOST:PORT (example: 127.0.0.1:8443, port 0 picks a free one)`);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

export function parseSize(text: string): number {
  const m = /^(\d+)(|b|k|kb|kib|m|mb|mib)$/i.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`"${text}" is not a size (examples: 65536, 64KiB, 1MiB)`);
  const unit = m[2].toLowerCase();
  const mult = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 * 1024 : 1;
  return Number(m[1]) * mult;
}
