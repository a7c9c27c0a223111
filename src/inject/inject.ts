// `kubewire inject` and `--uninject` over multi-document YAML text. The yaml package's parsed
// Documents only locate nodes; the output is the input with whole lines inserted, each ending in
// MARKER, so every other byte (comments, quoting, order) stays as it was, and uninject removes exactly those lines.
import { isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type YAMLMap, type YAMLSeq } from "yaml";
import { UserError } from "../errors.js";
import { templatePathOf } from "./workloads.js";
import { ANNOTATION, DATA_VOLUME, DEFAULT_SIDECAR, envLines, MARKER, mountLines, SHARED_VOLUME, SIDECAR_NAME, sidecarLines, volumeLines, type SidecarOptions } from "./sidecar.js";

export interface InjectNote {
  /** "Deployment/web" */
  object: string;
  message: string;
}

export interface InjectResult {
  text: string;
  injected: string[];
  notes: InjectNote[];
}

interface Insertion {
  at: number;
  lines: string[];
}

/** Column of an offset (characters since the line's start). */
function columnOf(text: string, pos: number): number {
  return pos - (text.lastIndexOf("\n", pos - 1) + 1);
}

/** The start of the line after the one that holds pos - 1 (pos itself when it already starts a line). */
function nextLineStart(text: string, pos: number): number {
  if (pos === 0 || text[pos - 1] === "\n") return pos;
  const nl = text.indexOf("\n", pos);
  return nl === -1 ? text.length : nl + 1;
}

/** Where a node's own content ends: the end of its last value, not counting the comments and blank lines after it. */
function contentEnd(node: unknown): number {
  if (isMap(node) && !node.flow && node.items.length) {
    const last = node.items[node.items.length - 1];
    return contentEnd(last.value ?? last.key);
  }
  if (isSeq(node) && !node.flow && node.items.length) return contentEnd(node.items[node.items.length - 1]);
  const r = (node as Node | null)?.range;
  if (!r) throw new Error("a YAML node without a position");
  return r[1];
}

/** The column of the dash that starts a block-sequence item. */
function dashColumn(text: string, item: Node): number {
  let p = item.range![0] - 1;
  while (p >= 0 && text[p] === " ") p--;
  if (text[p] !== "-") throw new Error("a block sequence item without its dash");
  return columnOf(text, p);
}

const indent = (lines: string[], col: number): string[] => lines.map((l) => " ".repeat(col) + l);

function name(doc: Document): string {
  const n = doc.getIn(["metadata", "name"]);
  return `${String(doc.get("kind"))}/${typeof n === "string" ? n : "?"}`;
}

/** A block map at path, null when absent; a flow map or a scalar there cannot take new lines. */
function blockMap(parent: YAMLMap, key: string, where: string): YAMLMap | null {
  const node = parent.get(key, true);
  if (node === undefined || (isScalar(node) && node.value === null && node.range && node.range[0] === node.range[1])) {
    if (node !== undefined) throw new UserError(`${where}: ${key} is empty; inject needs it absent or a block mapping`);
    return null;
  }
  if (!isMap(node) || node.flow) throw new UserError(`${where}: ${key} is not a block mapping (flow style: {...}); kubewire inject edits block YAML only`);
  return node;
}

function blockSeq(parent: YAMLMap, key: string, where: string): YAMLSeq | null {
  const node = parent.get(key, true);
  if (node === undefined) return null;
  if (!isSeq(node) || node.flow || node.items.length === 0) throw new UserError(`${where}: ${key} is not a block sequence (flow style: [...]); kubewire inject edits block YAML only`);
  return node;
}

/** Lines that append `lines` (sequence items at column 0) to a block sequence, or add `key:` with them at the end of map. */
function appendToSeq(text: string, map: YAMLMap, key: string, lines: string[], where: string): Insertion {
  const seq = blockSeq(map, key, where);
  if (seq) {
    const last = seq.items[seq.items.length - 1] as Node;
    return { at: nextLineStart(text, contentEnd(seq)), lines: indent(lines, dashColumn(text, last)) };
  }
  const col = columnOf(text, (map.items[0].key as Node).range![0]);
  return { at: nextLineStart(text, contentEnd(map)), lines: indent([`${key}:`, ...lines], col) };
}

/** The insertions for one document, or null when it is not a workload or is already injected. */
function planDocument(text: string, doc: Document, opts: SidecarOptions, notes: InjectNote[]): Insertion[] | null {
  if (!isMap(doc.contents)) return null;
  const path = templatePathOf(doc.get("kind"));
  if (!path) return null;
  const where = name(doc);
  const template = path.length ? doc.getIn(path, true) : doc.contents;
  if (!isMap(template) || template.flow) {
    throw new UserError(`${where}: ${path.length ? path.join(".") : "the manifest"} is not a block mapping (flow style or JSON); kubewire inject edits block YAML only`, "convert it first, e.g. kubectl get ... -o yaml");
  }
  const metadata = blockMap(template, "metadata", where);
  if (metadata?.getIn(["annotations", ANNOTATION]) !== undefined) {
    notes.push({ object: where, message: "already injected: left as it is" });
    return null;
  }
  const spec = blockMap(template, "spec", where);
  if (!spec) throw new UserError(`${where}: no pod spec at ${[...path, "spec"].join(".")}`);
  const containers = blockSeq(spec, "containers", where);
  if (!containers) throw new UserError(`${where}: the pod spec has no containers`);
  if (spec.get("automountServiceAccountToken") === false) notes.push({ object: where, message: "automountServiceAccountToken is false: the app has no token to pass through kubewire" });

  const out: Insertion[] = [];
  const appNames: string[] = [];
  for (const item of containers.items) {
    if (!isMap(item) || item.flow) throw new UserError(`${where}: a container is not a block mapping`);
    const cname = String(item.get("name"));
    if (cname === SIDECAR_NAME) throw new UserError(`${where}: a container is already named "${SIDECAR_NAME}"`);
    const env = item.get("env", true);
    const hasKubeconfig = isSeq(env) && env.items.some((e) => isMap(e) && e.get("name") === "KUBECONFIG");
    if (hasKubeconfig) notes.push({ object: where, message: `container "${cname}" sets KUBECONFIG itself: left as it is (it will not go through kubewire)` });
    else {
      out.push(appendToSeq(text, item, "env", envLines(), `${where} container ${cname}`));
      out.push(appendToSeq(text, item, "volumeMounts", mountLines(), `${where} container ${cname}`));
      appNames.push(cname);
    }
  }
  // the sidecar goes first: its postStart hook holds the app containers until the kubeconfig is written
  const first = containers.items[0] as Node;
  const dashCol = dashColumn(text, first);
  out.push({ at: text.lastIndexOf("\n", first.range![0] - 1) + 1, lines: indent(sidecarLines(opts), dashCol) });
  out.push(appendToSeq(text, spec, "volumes", volumeLines(), where));

  const value = JSON.stringify(`container=${SIDECAR_NAME};volumes=${SHARED_VOLUME},${DATA_VOLUME};env=${appNames.join(",")}`);
  if (metadata) {
    const annotations = blockMap(metadata, "annotations", where);
    if (annotations) {
      const col = columnOf(text, (annotations.items[0].key as Node).range![0]);
      out.push({ at: nextLineStart(text, contentEnd(annotations)), lines: indent([`${ANNOTATION}: ${value}`], col) });
    } else {
      const col = columnOf(text, (metadata.items[0].key as Node).range![0]);
      out.push({ at: nextLineStart(text, contentEnd(metadata)), lines: indent(["annotations:", `  ${ANNOTATION}: ${value}`], col) });
    }
  } else {
    const col = columnOf(text, (template.items[0].key as Node).range![0]);
    out.push({ at: nextLineStart(text, contentEnd(template)), lines: indent(["metadata:", "  annotations:", `    ${ANNOTATION}: ${value}`], col) });
  }
  return out;
}

/**
 * At one offset, the block that continues the structure ending there goes first: the deeper one,
 * and at one depth sequence items before a new key (which would otherwise adopt them); else queue order.
 */
function sameOffsetOrder(a: Insertion & { i: number }, b: Insertion & { i: number }): number {
  const depth = (x: Insertion) => x.lines[0].length - x.lines[0].trimStart().length;
  const item = (x: Insertion) => (x.lines[0].trimStart().startsWith("- ") ? 1 : 0);
  return depth(a) - depth(b) || item(a) - item(b) || b.i - a.i;
}

/** Applies insertions (whole lines, each marked) from the last offset to the first (see sameOffsetOrder). */
function applyInsertions(text: string, insertions: Insertion[]): string {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  // a file without a final newline gets one while lines go in at its end, and loses it again after (uninject mirrors this)
  const open = text.length > 0 && !text.endsWith("\n") && insertions.some((ins) => ins.at === text.length);
  const sorted = insertions.map((ins, i) => ({ ...ins, i })).sort((a, b) => b.at - a.at || sameOffsetOrder(a, b));
  let out = open ? text + eol : text;
  for (const ins of sorted) {
    const at = open && ins.at === text.length ? text.length + eol.length : ins.at;
    out = out.slice(0, at) + ins.lines.map((l) => `${l} ${MARKER}${eol}`).join("") + out.slice(at);
  }
  return open ? out.slice(0, -eol.length) : out;
}

function parse(text: string): Document[] {
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    if (doc.errors.length) throw new UserError(`the input is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
  }
  return docs;
}

/** The workloads of `text` with the kubewire sidecar added; every other document and byte as it was. */
export function injectText(text: string, opts: Partial<SidecarOptions> = {}): InjectResult {
  const o = { ...DEFAULT_SIDECAR, ...opts };
  const notes: InjectNote[] = [];
  const injected: string[] = [];
  const all: Insertion[] = [];
  for (const doc of parse(text)) {
    const plan = planDocument(text, doc, o, notes);
    if (!plan) continue;
    injected.push(name(doc));
    all.push(...plan);
  }
  return { text: applyInsertions(text, all), injected, notes };
}

const MARKED = new RegExp(` ${MARKER.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&")}\\r?$`);

/** Removes exactly the lines inject added (those ending in MARKER). */
export function uninjectText(text: string): { text: string; removed: number } {
  const lines = text.split(/(?<=\n)/);
  const kept = lines.filter((l) => !MARKED.test(l.replace(/\n$/, "")));
  let out = kept.join("");
  const last = lines[lines.length - 1];
  // a marked last line without a newline was appended after one inject added
  if (last !== undefined && !last.endsWith("\n") && MARKED.test(last) && kept.length) out = out.replace(/\r?\n$/, "");
  return { text: out, removed: lines.length - kept.length };
}
