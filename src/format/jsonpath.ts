// kubectl's JSONPath template dialect (k8s.io/client-go/util/jsonpath), for -o jsonpath, custom-columns
// and --sort-by. npm's JSONPath packages speak Goessner's or RFC 9535's dialect, not this one (no
// {…} actions with text between, no {range}/{end}, no "\n" literals), so the dialect is written here.
//
// Grammar, as kubectl parses it:
//   template := (text | "{" action "}")*
//   action   := step*                         steps apply left to right to the current values
//   step     := "." field | ".." field | "[" index "]" | "[?(" left op right ")]" | "@" | "$"
//             | "range" | "end" | '"text"' | "'text'" | number | "true" | "false"
//   index    := "*" | N | [N]:[N][:N] | "'key'" | index "," index    (negatives count from the end)
//   op       := == != < > <= >=     (no op: the element has the field)
// Missing keys print nothing (kubectl's --allow-missing-template-keys=true); an index out of range,
// an index on a non-array and a comparison of a string with a number are errors, as in kubectl.
// Where this differs from kubectl, on purpose: a null beside a filter's operator makes that element
// not match (kubectl stops with "invalid type for comparison"); JavaScript has one number type, so
// 1 and 1.0 compare (kubectl refuses int against float); text after {end} prints even when the range
// had no items; map keys are walked in sorted order (kubectl's order is random).
import { UserError } from "../errors.js";

type Node =
  | { t: "text"; text: string }
  | { t: "field"; name: string }
  | { t: "wildcard" }
  | { t: "recursive" }
  | { t: "array"; params: [Param, Param, Param] }
  | { t: "union"; lists: Node[][] }
  | { t: "filter"; left: Node[]; op: string; right: Node[] }
  | { t: "number"; value: number }
  | { t: "bool"; value: boolean }
  | { t: "range" }
  | { t: "end" };

interface Param {
  known: boolean;
  value: number;
  /** the end of a single index [n]: n + 1 */
  derived?: boolean;
}

/** A template piece: literal text, an action ({…}), or a range over an action's results. */
type Piece = { kind: "text"; text: string } | { kind: "action"; nodes: Node[] } | { kind: "range"; over: Node[]; body: Piece[] };

export class JsonPathError extends Error {}

const OPERATORS = ["==", "!=", "<", ">", "<=", ">="];
const TERMINATORS = new Set([" ", "\t", "\r", "\n", ".", ",", "[", "]", "$", "@", "{", "}"]);
const SLICE = /^(-?\d*)(:-?\d*)?(:-?\d*)?$/;
const FILTER = /^([^!<>=]+)([!<>=]+)(.+?)$/;

/** One parse of a template's text: a cursor over it, producing the action nodes. */
class Parser {
  private pos = 0;
  constructor(private readonly input: string) {}

  /** Text and actions until the end of input. */
  pieces(): Array<{ text: string } | { nodes: Node[] }> {
    const out: Array<{ text: string } | { nodes: Node[] }> = [];
    while (this.pos < this.input.length) {
      const open = this.input.indexOf("{", this.pos);
      if (open < 0) {
        out.push({ text: this.input.slice(this.pos) });
        break;
      }
      if (open > this.pos) out.push({ text: this.input.slice(this.pos, open) });
      this.pos = open + 1;
      out.push({ nodes: this.action() });
    }
    return out;
  }

  /** The steps of one action, up to and past its closing brace. */
  private action(): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const rest = this.input.slice(this.pos);
      if (rest.startsWith("}")) {
        this.pos++;
        return nodes;
      }
      if (rest.startsWith("[?(")) {
        nodes.push(this.filter());
        continue;
      }
      if (rest.startsWith("..")) {
        if (nodes.at(-1)?.t === "recursive") throw new JsonPathError("invalid multiple recursive descent");
        this.pos += 2;
        nodes.push({ t: "recursive" });
        if (/^[\p{L}\p{N}_]/u.test(this.input.slice(this.pos))) nodes.push(this.field());
        continue;
      }
      const c = this.input[this.pos];
      if (c === undefined || c === "\r" || c === "\n") throw new JsonPathError("unclosed action");
      if (c === " " || c === "@" || c === "$") this.pos++;
      else if (c === "[") nodes.push(this.array());
      else if (c === '"' || c === "'") nodes.push({ t: "text", text: this.quoted(c) });
      else if (c === ".") {
        this.pos++;
        nodes.push(this.field());
      } else if (c === "+" || c === "-" || /\d/.test(c)) nodes.push(this.number());
      else if (/[\p{L}\p{N}_]/u.test(c)) nodes.push(this.identifier());
      else throw new JsonPathError(`unrecognized character in action: ${JSON.stringify(c)}`);
    }
  }

  private field(): Node {
    let name = "";
    while (this.pos < this.input.length) {
      const c = this.input[this.pos];
      if (c === "\\") {
        name += this.input[this.pos + 1] ?? "";
        this.pos += 2;
        continue;
      }
      if (TERMINATORS.has(c)) break;
      name += c;
      this.pos++;
    }
    return name === "*" ? { t: "wildcard" } : { t: "field", name };
  }

  private number(): Node {
    const m = /^[+-]?[\d.]*/.exec(this.input.slice(this.pos))![0];
    this.pos += m.length;
    if (/^[+-]?\d+$/.test(m)) return { t: "number", value: Number(m) };
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(m)) return { t: "number", value: Number(m) };
    throw new JsonPathError(`cannot parse number ${m}`);
  }

  private identifier(): Node {
    const start = this.pos;
    while (this.pos < this.input.length && !TERMINATORS.has(this.input[this.pos])) this.pos++;
    const word = this.input.slice(start, this.pos);
    if (word === "true" || word === "false") return { t: "bool", value: word === "true" };
    if (word === "range" || word === "end") return { t: word };
    throw new JsonPathError(`unrecognized identifier ${word}`);
  }

  private quoted(quote: string): string {
    const start = this.pos;
    this.pos++;
    for (;;) {
      const c = this.input[this.pos];
      if (c === undefined || c === "\n") throw new JsonPathError("unterminated quoted string");
      this.pos++;
      if (c === "\\") {
        this.pos++;
        continue;
      }
      if (c === quote) break;
    }
    return unquote(this.input.slice(start + 1, this.pos - 1));
  }

  private array(): Node {
    const close = this.input.indexOf("]", this.pos);
    const newline = this.input.indexOf("\n", this.pos);
    if (close < 0 || (newline >= 0 && newline < close)) throw new JsonPathError("unterminated array");
    let text = this.input.slice(this.pos + 1, close);
    this.pos = close + 1;
    if (text === "*") text = ":";
    const parts = text.split(",");
    if (parts.length > 1) return { t: "union", lists: parts.map((p) => actionOf(`[${p.trim()}]`)) };
    const key = /^'([^']*)'$/.exec(text);
    if (key) {
      const nodes = actionOf(`.${key[1]}`);
      if (nodes.length === 1) return nodes[0];
      return { t: "union", lists: [nodes] };
    }
    const m = SLICE.exec(text);
    if (!m) throw new JsonPathError(`invalid array index ${JSON.stringify(text)}`);
    const params: Param[] = [];
    for (let i = 0; i < 3; i++) {
      const raw = i > 0 && m[i + 1] !== undefined ? m[i + 1].slice(1) : m[i + 1];
      if (raw !== undefined && raw !== "") params.push({ known: true, value: Number(raw) });
      else if (i === 1 && m[2] === undefined) params.push({ known: true, value: params[0].value + 1, derived: true });
      else params.push({ known: false, value: 0 });
    }
    return { t: "array", params: params as [Param, Param, Param] };
  }

  private filter(): Node {
    this.pos += 3;
    const start = this.pos;
    let quote = "";
    let closed = false;
    for (;;) {
      const c = this.input[this.pos];
      if (c === undefined || c === "\n") throw new JsonPathError("unterminated filter");
      this.pos++;
      if ((c === '"' || c === "'") && !closed) {
        if (!quote) quote = c;
        else if (c === quote && this.input[this.pos - 2] !== "\\") closed = true;
        continue;
      }
      if (c === ")" && (!quote || closed)) break;
    }
    if (this.input[this.pos] !== "]") throw new JsonPathError("unclosed array expect ]");
    const text = this.input.slice(start, this.pos - 1);
    this.pos++;
    const m = FILTER.exec(text);
    if (!m) return { t: "filter", left: actionOf(text), op: "exists", right: [] };
    if (!OPERATORS.includes(m[2])) throw new JsonPathError(`unrecognized filter operator ${m[2]}`);
    return { t: "filter", left: actionOf(m[1]), op: m[2], right: actionOf(m[3]) };
  }
}

/** The nodes of one action's text (without its braces). */
function actionOf(text: string): Node[] {
  const pieces = new Parser(`{${text}}`).pieces();
  const first = pieces[0];
  return first && "nodes" in first ? first.nodes : [];
}

/** Go's quoted-string escapes (strconv.UnquoteChar), in single or double quotes. */
function unquote(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, e: string) => {
    const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v", "\\": "\\", '"': '"', "'": "'" };
    if (e in simple) return simple[e];
    if (/^[xuU]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    throw new JsonPathError(`invalid escape \\${e} in a quoted string`);
  });
}

/** Nests {range}…{end} into blocks; an {end} without a range is refused, a range without an end runs to the template's end. */
function nest(flat: Array<{ text: string } | { nodes: Node[] }>): Piece[] {
  const root: Piece[] = [];
  const stack: Piece[][] = [root];
  for (const p of flat) {
    const into = stack[stack.length - 1];
    if ("text" in p) {
      into.push({ kind: "text", text: p.text });
      continue;
    }
    if (p.nodes[0]?.t === "range") {
      const block: Piece = { kind: "range", over: p.nodes.slice(1), body: [] };
      into.push(block);
      stack.push(block.body);
    } else if (p.nodes[0]?.t === "end") {
      if (stack.length === 1) throw new JsonPathError("not in range, nothing to end");
      stack.pop();
    } else {
      if (p.nodes.some((n) => n.t === "range" || n.t === "end")) throw new JsonPathError("range and end must open their action: {range .items[*]} … {end}");
      into.push({ kind: "action", nodes: p.nodes });
    }
  }
  return root;
}

type Value = unknown;

const isMap = (v: Value): v is Record<string, Value> => typeof v === "object" && v !== null && !Array.isArray(v);

function kindOf(v: Value): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "object") return "map";
  return typeof v;
}

function children(v: Value): Value[] {
  if (Array.isArray(v)) return v;
  if (isMap(v)) return Object.keys(v).sort().map((k) => v[k]);
  return [];
}

function walk(input: Value[], nodes: Node[]): Value[] {
  let cur = input;
  for (const node of nodes) cur = step(cur, node);
  return cur;
}

function step(input: Value[], node: Node): Value[] {
  switch (node.t) {
    case "text":
      return [node.text];
    case "number":
    case "bool":
      return input.map(() => node.value);
    case "field":
      // undefined is a key -o json would not print: missing, as there
      return input.filter(isMap).filter((v) => Object.hasOwn(v, node.name) && v[node.name] !== undefined).map((v) => v[node.name]);
    case "wildcard":
      return input.flatMap(children);
    case "recursive": {
      const out: Value[] = [];
      const visit = (v: Value) => {
        const kids = children(v);
        if (kids.length === 0) return;
        out.push(v);
        kids.forEach(visit);
      };
      input.forEach(visit);
      return out;
    }
    case "array":
      return input.flatMap((v) => slice(v, node.params));
    case "union":
      return node.lists.flatMap((list) => walk(input, list));
    case "filter":
      return input.flatMap((v) => filter(v, node));
    case "range":
    case "end":
      throw new JsonPathError("range and end must open their action");
  }
}

function slice(v: Value, [p0, p1, p2]: [Param, Param, Param]): Value[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new JsonPathError(`${kindOf(v)} is not array or slice`);
  const len = v.length;
  let start = p0.known ? p0.value : 0;
  if (start < 0) start += len;
  let end = p1.known ? p1.value : len;
  if (end < 0 || (end === 0 && p1.derived)) end += len;
  if (start === end) return [];
  if (start >= len || start < 0) throw new JsonPathError(`array index out of bounds: index ${start}, length ${len}`);
  if (end > len || end < 0) throw new JsonPathError(`array index out of bounds: index ${end - 1}, length ${len}`);
  if (start > end) throw new JsonPathError(`starting index ${start} is greater than ending index ${end}`);
  const by = p2.known ? p2.value : 1;
  if (by <= 0) throw new JsonPathError("step must be > 0");
  const out: Value[] = [];
  for (let i = start; i < end; i += by) out.push(v[i]);
  return out;
}

function filter(v: Value, node: Extract<Node, { t: "filter" }>): Value[] {
  if (!Array.isArray(v)) throw new JsonPathError(`${kindOf(v)} is not array or slice and cannot be filtered`);
  return v.filter((el) => {
    const lefts = walk([el], node.left);
    if (node.op === "exists") return lefts.length > 0;
    if (lefts.length === 0) return false;
    if (lefts.length > 1) throw new JsonPathError("can only compare one element at a time");
    const rights = walk([el], node.right);
    if (rights.length === 0) return false;
    if (rights.length > 1) throw new JsonPathError("can only compare one element at a time");
    return compare(lefts[0], node.op, rights[0]);
  });
}

function compare(a: Value, op: string, b: Value): boolean {
  if (a === null || b === null) return false;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) throw new JsonPathError(`incompatible types for comparison (${ka} ${op} ${kb})`);
  if (ka === "map" || ka === "array") throw new JsonPathError(`invalid type for comparison (${ka})`);
  if (ka === "boolean" && op !== "==" && op !== "!=") throw new JsonPathError(`invalid type for comparison (boolean ${op} boolean)`);
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case "==":
      return x === y;
    case "!=":
      return x !== y;
    case "<":
      return x < y;
    case ">":
      return x > y;
    case "<=":
      return x <= y;
    default:
      return x >= y;
  }
}

/** A parsed template. `source` is the text as given, for messages. */
export class JsonPath {
  private constructor(
    readonly source: string,
    private readonly pieces: Piece[],
  ) {}

  /** Parses a template; a syntax error is a JsonPathError. */
  static parse(template: string): JsonPath {
    return new JsonPath(template, nest(new Parser(template).pieces()));
  }

  /**
   * kubectl's relaxed path, as custom-columns and --sort-by take it: `.a.b`, `a.b`, `{.a.b}` and `{a.b}`
   * all mean `{.a.b}`.
   */
  static relaxed(path: string): JsonPath {
    const m = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(path);
    if (!m) throw new JsonPathError(`unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'`);
    return JsonPath.parse(`{.${m[1] ?? m[2]}}`);
  }

  /** Each action's results in order (a range contributes one group per item and piece), as kubectl's FindResults. */
  results(data: Value): Value[][] {
    const out: Value[][] = [];
    const run = (pieces: Piece[], cur: Value) => {
      for (const p of pieces) {
        if (p.kind === "text") out.push([p.text]);
        else if (p.kind === "action") out.push(walk([cur], p.nodes));
        else for (const item of walk([cur], p.over)) run(p.body, item);
      }
    };
    run(this.pieces, data);
    return out;
  }

  /** The template printed as kubectl prints -o jsonpath: results of one action joined by a space. */
  text(data: Value): string {
    return this.results(data)
      .map((group) => group.map((v) => (typeof v === "string" ? v : textOf(v))).join(" "))
      .join("");
  }

  /** As -o jsonpath-as-json: each group a JSON array, indented as Go's MarshalIndent with four spaces. */
  json(data: Value): string {
    return this.results(data)
      .map((group) => `${goJson(group, 4)}\n`)
      .join("");
  }
}

/** A non-string result as kubectl's jsonpath prints it: maps and arrays as compact JSON, null as null. */
function textOf(v: Value): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "object") return goJson(v);
  if (typeof v === "number") return goNumber(v);
  return String(v);
}

/** Go's fmt %v of a float64 or int: exponent form below 1e-4 and from 1e21. */
export function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
    const [mant, exp] = n.toExponential().split("e");
    const e = Number(exp);
    return `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  return String(n);
}

/**
 * Go's encoding/json: map keys sorted, <, > and & escaped as \\u003c, \\u003e, \\u0026; and, for the
 * terminal, DEL, C1 and the bidirectional controls as \\uXXXX too (JSON.stringify escapes only C0).
 */
export function goJson(v: Value, indent = 0): string {
  const sorted = (x: Value): Value => (Array.isArray(x) ? x.map(sorted) : isMap(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sorted(x[k])])) : x);
  return JSON.stringify(sorted(v) ?? null, null, indent || undefined)
    .replace(/[<>&\u2028\u2029\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Go's fmt %v of a decoded JSON value, as custom-columns prints a cell: map[k:v], [a b], <nil>. */
export function goValue(v: Value): string {
  if (v === null || v === undefined) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(goValue).join(" ")}]`;
  if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goValue(v[k])}`).join(" ")}]`;
  if (typeof v === "number") return goNumber(v);
  return String(v);
}

/** A template from the command line, or a UserError naming the flag and the template. */
export function parseTemplate(flag: string, template: string, relaxed = false): JsonPath {
  try {
    return relaxed ? JsonPath.relaxed(template) : JsonPath.parse(template);
  } catch (err) {
    if (err instanceof JsonPathError) throw new UserError(`${flag}: cannot parse ${JSON.stringify(template)}: ${err.message}`);
    throw err;
  }
}

/** Runs `fn`, turning an evaluation error into a UserError that names the flag and the template. */
export function executing<T>(flag: string, path: JsonPath, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof JsonPathError) throw new UserError(`${flag}: executing ${JSON.stringify(path.source)}: ${err.message}`);
    throw err;
  }
}
