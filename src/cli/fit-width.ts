// Fits a table to the terminal: the widest free-text columns are cut (ending in "…") until the rows
// fit process.stdout.columns (or $COLUMNS); output to a pipe or file is left whole for scripts.

/** The width to fit to: the terminal's, or $COLUMNS when set; undefined when writing to a pipe or file. */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/**
 * Cuts cells of the `shrinkable` columns so that header and rows, joined by `gap` spaces, fit in
 * `width`; a column is never cut below its header or 8 characters. Other columns stay whole.
 */
export function fitColumns(headers: string[], rows: string[][], width: number, shrinkable: number[], gap = 3): string[][] {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const floor = (i: number) => Math.max(headers[i].length, 8);
  let excess = widths.reduce((a, b) => a + b, 0) + gap * (headers.length - 1) - width;
  while (excess > 0) {
    const candidates = shrinkable.filter((i) => widths[i] > floor(i));
    if (candidates.length === 0) break;
    const widest = candidates.reduce((a, b) => (widths[b] > widths[a] ? b : a));
    const others = candidates.filter((i) => i !== widest).map((i) => widths[i]);
    // shrink the widest down to the next widest (or by what is left), never below its floor
    const target = Math.max(floor(widest), widths[widest] - excess, others.length ? Math.min(widths[widest] - 1, Math.max(...others)) : 0);
    excess -= widths[widest] - target;
    widths[widest] = target;
  }
  return rows.map((r) => r.map((cell, i) => (shrinkable.includes(i) && cell.length > widths[i] ? `${cell.slice(0, widths[i] - 1)}…` : cell)));
}
