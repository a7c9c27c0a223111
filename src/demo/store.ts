// The in-memory object store: seeded objects per resource, increasing resourceVersion,
// selectors, paging, JSON merge patch, and a change log that watches replay and follow.
import { randomUUID } from "node:crypto";
import { seedObjects } from "./seed.js";
import type { KObject } from "./kobject.js";

export type { ObjectMeta } from "./kobject.js";

export type { KObject } from "./kobject.js";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  /** "group/resource", e.g. "/pods" or "apps/deployments" */
  key: string;
  rv: number;
  object: KObject;
}

export type Listener = (ev: StoreEvent) => void;

const LOG_LIMIT = 2000;

export function resourceKey(group: string, resource: string): string {
  return `${group}/${resource}`;
}

/** RFC 3339 with whole seconds, as metav1.Time marshals. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function clone<T>(x: T): T {
  return structuredClone(x);
}

export class Store {
  private rv = 1000;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<Listener>();

  constructor(now = Date.now()) {
    for (const { key, object } of seedObjects(now)) this.put(key, object);
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  private bucket(key: string): Map<string, KObject> {
    let b = this.objects.get(key);
    if (!b) this.objects.set(key, (b = new Map()));
    return b;
  }

  private put(key: string, obj: KObject): KObject {
    this.rv += 1;
    obj.metadata.resourceVersion = String(this.rv);
    this.bucket(key).set(id(obj.metadata.namespace ?? "", obj.metadata.name), obj);
    return obj;
  }

  private emit(type: EventType, key: string, object: KObject): void {
    const ev: StoreEvent = { type, key, rv: this.rv, object: clone(object) };
    this.log.push(ev);
    if (this.log.length > LOG_LIMIT) this.log.shift();
    for (const l of this.listeners) l(ev);
  }

  get(key: string, namespace: string, name: string): KObject | undefined {
    const o = this.objects.get(key)?.get(id(namespace, name));
    return o ? clone(o) : undefined;
  }

  /** Objects of a resource, sorted by namespace then name (as etcd keys sort). */
  list(key: string, namespace: string): KObject[] {
    const all = [...(this.objects.get(key)?.values() ?? [])].filter((o) => !namespace || o.metadata.namespace === namespace);
    all.sort((a, b) => id(a.metadata.namespace ?? "", a.metadata.name).localeCompare(id(b.metadata.namespace ?? "", b.metadata.name)));
    return all.map(clone);
  }

  create(key: string, obj: KObject, now = Date.now()): KObject {
    const meta = obj.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(now);
    if (meta.generation === undefined && obj.apiVersion.startsWith("apps/")) meta.generation = 1;
    delete meta.deletionTimestamp;
    const stored = this.put(key, clone(obj));
    this.emit("ADDED", key, stored);
    return clone(stored);
  }

  update(key: string, obj: KObject): KObject {
    const stored = this.put(key, clone(obj));
    this.emit("MODIFIED", key, stored);
    return clone(stored);
  }

  delete(key: string, namespace: string, name: string): KObject | undefined {
    const b = this.objects.get(key);
    const o = b?.get(id(namespace, name));
    if (!b || !o) return undefined;
    b.delete(id(namespace, name));
    this.rv += 1;
    o.metadata.resourceVersion = String(this.rv);
    this.emit("DELETED", key, o);
    return clone(o);
  }

  /** Changes after the given resourceVersion still in the log. */
  since(rv: number): StoreEvent[] {
    return this.log.filter((e) => e.rv > rv);
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

function id(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Label selector: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`. */
export function matchesLabels(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  const terms = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return terms.every((raw) => {
    const t = raw.trim();
    if (!t) return true;
    let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    if (m) {
      const vals = m[3].split(",").map((v) => v.trim());
      const has = m[1] in l && vals.includes(l[m[1]]);
      return m[2] === "in" ? has : !has;
    }
    m = /^(\S+?)\s*(!=|==|=)\s*(\S*)$/.exec(t);
    if (m) return m[2] === "!=" ? l[m[1]] !== m[3] : l[m[1]] === m[3];
    if (t.startsWith("!")) return !(t.slice(1) in l);
    return t in l;
  });
}

/** Field selector: metadata.name, metadata.namespace, and a few well-known fields, `=`/`==`/`!=`. */
export function matchesFields(obj: KObject, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(",").every((raw) => {
    const m = /^\s*([\w.]+)\s*(!=|==|=)\s*(.*?)\s*$/.exec(raw);
    if (!m) return true;
    let v: unknown = obj;
    for (const p of m[1].split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[p] : undefined;
    const s = v === undefined || v === null ? "" : String(v);
    return m[2] === "!=" ? s !== m[3] : s === m[3];
  });
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test). Throws on a bad path. */
export function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const doc = { root: clone(target) } as Record<string, unknown>;
  for (const op of ops) {
    const segs = ["root", ...op.path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))];
    let parent: Record<string, unknown> | unknown[] = doc;
    for (const s of segs.slice(0, -1)) {
      const next: unknown = (parent as Record<string, unknown>)[s];
      if (!next || typeof next !== "object") throw new Error(`doc is missing path: "${op.path}"`);
      parent = next as Record<string, unknown>;
    }
    const last = segs[segs.length - 1];
    if (op.op === "test") {
      if (JSON.stringify((parent as Record<string, unknown>)[last]) !== JSON.stringify(op.value)) throw new Error(`testing value ${op.path} failed`);
    } else if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (op.op === "add") parent.splice(i, 0, op.value);
      else if (op.op === "remove") parent.splice(i, 1);
      else if (op.op === "replace") parent[i] = op.value;
    } else {
      const p = parent as Record<string, unknown>;
      if (op.op === "remove" || op.op === "replace") {
        if (!(last in p)) throw new Error(`doc is missing key: ${op.path}`);
      }
      if (op.op === "remove") delete p[last];
      else p[last] = op.value;
    }
  }
  return doc.root;
}
