// kubectl's templated outputs and sorting, over the -o json shape of any command: -o jsonpath=,
// jsonpath-file=, jsonpath-as-json=, custom-columns=, custom-columns-file=, and --sort-by.
// A list is seen as kubectl sees one, {kind: List, items: [...]}, whose items are what -o json prints;
// custom-columns and --sort-by read each item, as kubectl's CustomColumnsPrinter and SortingPrinter do.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";
import { executing, goValue, parseTemplate, type JsonPath } from "./jsonpath.js";
import { escapeTerminal } from "./output.js";

export interface Column {
  header: string;
  path: JsonPath;
}

export type Printer = { kind: "jsonpath"; flag: string; path: JsonPath; asJson: boolean } | { kind: "custom-columns"; flag: string; columns: Column[] };

/** The templated formats, as -o help and errors name them. */
export const TEMPLATE_FORMATS = ["jsonpath=TEMPLATE", "jsonpath-file=FILE", "jsonpath-as-json=TEMPLATE", "custom-columns=SPEC", "custom-columns-file=FILE"];

const KINDS = ["jsonpath", "jsonpath-file", "jsonpath-as-json", "custom-columns", "custom-columns-file"];

/** The printer of a templated -o value, undefined for any other value; a bad template is a UserError. */
export function templatePrinter(output: string): Printer | undefined {
  const eq = output.indexOf("=");
  const kind = eq < 0 ? output : output.slice(0, eq);
  if (!KINDS.includes(kind)) return undefined;
  const arg = eq < 0 ? "" : output.slice(eq + 1);
  const flag = `-o ${kind}`;
  if (!arg) throw new UserError(`${flag} needs a ${kind.endsWith("-file") ? "file" : kind.startsWith("custom") ? "column spec" : "template"}: -o ${kind}=${examples[kind]}`);
  const text = kind.endsWith("-file") ? readTemplate(flag, arg) : arg;
  if (kind.startsWith("jsonpath")) return { kind: "jsonpath", flag, path: parseTemplate(flag, text), asJson: kind === "jsonpath-as-json" };
  return { kind: "custom-columns", flag, columns: kind === "custom-columns" ? columnsOf(flag, text) : columnsOfFile(flag, text) };
}

const examples: Record<string, string> = {
  jsonpath: `'{range .items[*]}{.id}{"\\n"}{end}'`,
  "jsonpath-as-json": `'{.items[*].id}'`,
  "jsonpath-file": "template.txt",
  "custom-columns": "ID:.id,STATUS:.status",
  "custom-columns-file": "columns.txt",
};

function readTemplate(flag: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** `HEADER:.path,HEADER:{.path}`, split on commas and colons as kubectl does. */
function columnsOf(flag: string, spec: string): Column[] {
  return spec.split(",").map((part) => {
    const bits = part.split(":");
    if (bits.length !== 2 || !bits[1]) throw new UserError(`${flag}: unexpected custom-columns spec: ${part}, expected <header>:<json-path-expr>`);
    return { header: bits[0], path: parseTemplate(flag, bits[1], true) };
  });
}

/** A file of two lines: headers, then as many paths, separated by white space (kubectl's format). */
function columnsOfFile(flag: string, text: string): Column[] {
  const [headLine = "", pathLine = ""] = text.split("\n").filter((l) => l.trim());
  const headers = headLine.trim().split(/\s+/);
  const paths = pathLine.trim().split(/\s+/);
  if (!pathLine || headers.length !== paths.length) throw new UserError(`${flag}: expected a line of headers and a line of as many paths, got ${headers.length} header(s) and ${pathLine ? paths.length : 0} path(s)`);
  return headers.map((header, i) => ({ header, path: parseTemplate(flag, paths[i], true) }));
}

/** -o's value: one of the plain formats a command prints itself, or a template's printer. */
export function outputOf(value: string, plain: readonly string[]): { format: string; printer?: Printer } {
  const printer = templatePrinter(value);
  if (printer) return { format: "template", printer };
  if (plain.includes(value)) return { format: value };
  throw new UserError(`-o ${value} is not supported here; choose one of: ${[...plain, ...TEMPLATE_FORMATS].join(", ")}`);
}

/** The list view a template sees: kubectl's List around the items -o json prints. */
export function listOf(items: unknown[]): { kind: "List"; items: unknown[] } {
  return { kind: "List", items };
}

/** A whole list printed by the template (jsonpath over the List, custom-columns a row per item). */
export function printList(p: Printer, items: unknown[], noHeaders = false): string {
  if (p.kind === "jsonpath") return printObject(p, listOf(items));
  return printColumns(p, items, noHeaders);
}

/** Items one after another, as a watch prints them: the template per item, custom-columns' header only when asked. */
export function printEach(p: Printer, items: unknown[], noHeaders: boolean): string {
  if (p.kind === "custom-columns") return printColumns(p, items, noHeaders);
  return items.map((item) => printObject(p, item)).join("");
}



/** One object (show, or an item of a watch) printed by the template. */
export function printObject(p: Printer, obj: unknown, noHeaders = false): string {
  if (p.kind === "custom-columns") return printColumns(p, [obj], noHeaders);
  // the data as recorded (filters compare the real strings); what reaches the terminal is escaped
  return escapeTerminal(executing(p.flag, p.path, () => (p.asJson ? p.path.json(obj) : p.path.text(obj))));
}

/** Rows aligned as kubectl's tab writer aligns them: each column but the last padded to its widest cell plus 3, at least 6. */
export function printColumns(p: Extract<Printer, { kind: "custom-columns" }>, items: unknown[], noHeaders = false): string {
  const rows = items.map((item) =>
    p.columns.map((c) =>
      executing(p.flag, c.path, () => {
        const found = c.path.results(item).flat();
        return found.length ? escapeTerminal(found.map(goValue).join(",")) : "<none>";
      }),
    ),
  );
  const all = noHeaders ? rows : [p.columns.map((c) => c.header), ...rows];
  const width = (s: string) => [...s].length;
  const widths = p.columns.map((_, i) => Math.max(6, ...all.map((r) => width(r[i]) + 3)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(widths[i] - width(cell)))).join("") + "\n").join("");
}

/** Checks a --sort-by path before any work is done (a UserError when it does not parse). */
export function checkSortBy(field: string | undefined): void {
  if (field !== undefined) parseTemplate("--sort-by", field, true);
}

/**
 * Items sorted by a field of each, as kubectl's --sort-by: numbers numerically, strings in natural
 * order (digits as numbers; both quantities such as 100Mi and 1Gi by amount), false before true; an
 * item without the field (or null) first, ties in their listed order. A field no item has is an error.
 */
export function sortBy<T>(items: T[], field: string): T[] {
  const flag = "--sort-by";
  const path = parseTemplate(flag, field, true);
  const keys = items.map((item) => executing(flag, path, () => path.results(item)[0]?.[0] ?? null));
  if (items.length && keys.every((k) => k === null)) throw new UserError(`${flag}: couldn't find any field with path "${path.source}" in the list of objects`);
  const kinds = new Set(keys.filter((k) => k !== null).map((k) => (Array.isArray(k) ? "array" : typeof k)));
  for (const k of kinds) if (k === "object" || k === "array") throw new UserError(`${flag}: ${path.source} holds ${k === "array" ? "an array" : "a map"}: sort by a number, a string or a boolean inside it`);
  if (kinds.size > 1) throw new UserError(`${flag}: ${path.source} holds both ${[...kinds].join(" and ")} values: they cannot be ordered together`);
  const order = items.map((item, i) => ({ item, key: keys[i], i }));
  order.sort((a, b) => compareKeys(a.key, b.key) || a.i - b.i);
  return order.map((o) => o.item);
}

function compareKeys(a: unknown, b: unknown): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  const qx = quantity(x);
  const qy = quantity(y);
  if (qx !== undefined && qy !== undefined) return qx - qy;
  return naturalLess(x, y) ? -1 : naturalLess(y, x) ? 1 : 0;
}

const SUFFIX: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** A resource.Quantity's amount (100Mi, 1.5, 250m, 1e3), or undefined when the text is not one. */
function quantity(s: string): number | undefined {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(s);
  if (!m) return undefined;
  return m[2] ? Number(m[1] + m[2]) : Number(m[1]) * SUFFIX[m[3] ?? ""];
}

/** fvbommel/sortorder's NaturalLess, which kubectl sorts strings with: runs of digits compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  const digit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  while (i < a.length && j < b.length) {
    const da = digit(a[i]);
    const db = digit(b[j]);
    if (da !== db) return da;
    if (!da) {
      if (a[i] !== b[j]) return a[i] < b[j];
      i++;
      j++;
      continue;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    const si = i;
    const sj = j;
    while (digit(a[i])) i++;
    while (digit(b[j])) j++;
    const na = a.slice(si, i);
    const nb = b.slice(sj, j);
    if (na.length !== nb.length) return na.length < nb.length;
    if (na !== nb) return na < nb;
    if (si !== sj) return si < sj;
  }
  return a.length < b.length;
}
