// A reader for the plain YAML that kubectl and most tools write kubeconfigs in (block mappings and
// sequences, plain and quoted scalars): loading the full YAML library costs a wrapped `exec` more
// than kubectl itself takes. Anything it does not fully understand returns null: the caller then
// uses the YAML library, so a document is read either exactly as the library reads it or by it.

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

interface Line {
  indent: number;
  text: string;
}

class Bail extends Error {}

const bail = (): never => {
  throw new Bail();
};

/** Plain scalars as the YAML 1.2 core schema resolves them; anything number-like but unusual bails. */
function plain(s: string): Value {
  if (s === "" || s === "~" || s === "null" || s === "Null" || s === "NULL") return null;
  if (s === "true" || s === "True" || s === "TRUE") return true;
  if (s === "false" || s === "False" || s === "FALSE") return false;
  if (/^-?(0|[1-9][0-9]{0,14})$/.test(s)) return Number(s);
  // the core schema's other number forms (octal, hex, floats, .inf, .nan): left to the YAML library
  if (/^[-+]?[0-9]+$|^0o[0-7]+$|^0x[0-9a-fA-F]+$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$|^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(s)) return bail();
  if (/^[&*!|>%@`'"{}[\]?,#:]/.test(s) || s === "-" || s.startsWith("- ")) return bail();
  if (/:(\s|$)|\s#/.test(s)) return bail();
  return s;
}

function scalar(s: string): Value {
  if (s === "{}") return {};
  if (s === "[]") return [];
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) return bail();
    const body = s.slice(1, -1);
    if (/\\[^"\\/bfnrtu]|\\$/.test(body) || /(^|[^\\])"/.test(body)) return bail();
    try {
      return JSON.parse(s) as string;
    } catch {
      return bail();
    }
  }
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) return bail();
    const body = s.slice(1, -1);
    if (body.replace(/''/g, "").includes("'")) return bail();
    return body.replace(/''/g, "'");
  }
  return plain(s);
}

/** "key: rest" → [key, rest]; rest "" means a nested block follows. */
function keyValue(text: string): [string, string] {
  const m = /^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: (.*))?$/.exec(text);
  if (!m) return bail();
  return [m[1], (m[2] ?? "").trim()];
}

function parseBlock(lines: Line[], start: number, indent: number): [Value, number] {
  if (start >= lines.length) return [null, start];
  const first = lines[start];
  if (first.indent !== indent) return bail();
  if (first.text === "-" || first.text.startsWith("- ")) return parseSeq(lines, start, indent);
  return parseMap(lines, start, indent);
}

function parseMap(lines: Line[], start: number, indent: number, firstText?: string): [Value, number] {
  const out: Record<string, Value> = {};
  let i = start;
  let text = firstText;
  while (i < lines.length) {
    if (text === undefined) {
      const l = lines[i];
      if (l.indent < indent) break;
      if (l.indent > indent || l.text === "-" || l.text.startsWith("- ")) return bail();
      text = l.text;
    }
    const [key, rest] = keyValue(text);
    text = undefined;
    if (Object.prototype.hasOwnProperty.call(out, key) || key === "__proto__") return bail();
    i++;
    if (rest !== "") {
      out[key] = scalar(rest);
      continue;
    }
    const next = lines[i];
    if (!next || next.indent < indent || (next.indent === indent && !(next.text === "-" || next.text.startsWith("- ")))) {
      out[key] = null;
      continue;
    }
    // a sequence may sit at the key's own indent (kubectl's style) or deeper; a mapping only deeper
    const [value, after] = parseBlock(lines, i, next.indent);
    out[key] = value;
    i = after;
  }
  return [out, i];
}

function parseSeq(lines: Line[], start: number, indent: number): [Value, number] {
  const out: Value[] = [];
  let i = start;
  while (i < lines.length) {
    const l = lines[i];
    if (l.indent < indent) break;
    if (l.indent > indent) return bail();
    if (!(l.text === "-" || l.text.startsWith("- "))) break; // the next key of the mapping this sequence sits in
    const rest = l.text === "-" ? "" : l.text.slice(2);
    const inner = rest.length - rest.trimStart().length;
    const item = rest.trimStart();
    if (item === "") {
      i++;
      const next = lines[i];
      if (!next || next.indent <= indent) {
        out.push(null);
        continue;
      }
      const [value, after] = parseBlock(lines, i, next.indent);
      out.push(value);
      i = after;
    } else if (item.startsWith("- ")) {
      return bail();
    } else if (/^[A-Za-z0-9_][A-Za-z0-9_./-]*:( |$)/.test(item)) {
      // "- key: value" opens a mapping whose keys sit at the column of "key"
      const [value, after] = parseMap(lines, i, indent + 2 + inner, item);
      out.push(value);
      i = after;
    } else {
      out.push(scalar(item));
      i++;
    }
  }
  return [out, i];
}

/** The document, or null when it uses anything beyond plain block YAML (the caller then uses the YAML library). */
export function parsePlainYaml(text: string): Record<string, unknown> | null {
  if (text.includes("\t") || text.includes("\r") || text.charCodeAt(0) === 0xfeff) return null;
  const lines: Line[] = [];
  for (const raw of text.split("\n")) {
    const trimmed = raw.trimEnd();
    const body = trimmed.trimStart();
    if (body === "" || body.startsWith("#")) continue;
    if (body.startsWith("---") || body.startsWith("...") || body.startsWith("%")) return null;
    lines.push({ indent: trimmed.length - body.length, text: body });
  }
  try {
    if (lines.length === 0) return null;
    const [value, end] = parseBlock(lines, 0, 0);
    if (end !== lines.length || !value || typeof value !== "object" || Array.isArray(value)) return null;
    return value as Record<string, unknown>;
  } catch (err) {
    if (err instanceof Bail) return null;
    throw err;
  }
}
