// Writes the kubeconfig that clients use to reach the proxy: every context of the user's kubeconfig
// under its own name and namespace, each at its own kubewire listener (so client caches never mix
// clusters), trusting the local CA, with this run's proxy token. Mode 0600.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../errors.js";

type Raw = Record<string, any>;

export interface ClientKubeconfig {
  /** the generated kubeconfig's current-context */
  contextName: string;
  /** the selected context's namespace (used when `contexts` is not given) */
  namespace: string;
  /** the selected context's listener (used when `contexts` is not given) */
  proxyUrl: string;
  caPem: string;
  token: string;
  /** the user's merged kubeconfig, for the whole-kubeconfig form */
  merged?: Raw;
  /** context name → its listener URL; contexts without one are left out */
  listeners?: Map<string, string>;
}

/** Cluster fields kubectl reads that still hold through kubewire; server, CA, TLS name and proxy-url are kubewire's. */
const CLUSTER_FIELDS_KEPT = ["disable-compression", "extensions"];

/**
 * A name for the generated cluster (or user) entry of a context: the user's own name when only one
 * listener uses it, else "<name>@<context>", since each listener needs its own entry.
 */
function entryNames(contexts: Raw[], field: "cluster" | "user"): Map<string, string> {
  const uses = new Map<string, number>();
  for (const c of contexts) uses.set(c.context?.[field] ?? "", (uses.get(c.context?.[field] ?? "") ?? 0) + 1);
  const names = new Map<string, string>();
  for (const c of contexts) {
    const own = c.context?.[field] ?? "";
    names.set(c.name, own && uses.get(own) === 1 ? own : `${own || "kubewire"}@${c.name}`);
  }
  return names;
}

export function clientKubeconfigYaml(c: ClientKubeconfig): string {
  const caData = Buffer.from(c.caPem).toString("base64");
  if (!c.merged || !c.listeners) {
    const name = `kubewire-${c.contextName}`;
    return toYaml({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name, cluster: { server: c.proxyUrl, "certificate-authority-data": caData } }],
      users: [{ name, user: { token: c.token } }],
      contexts: [{ name: c.contextName, context: { cluster: name, user: name, namespace: c.namespace } }],
      "current-context": c.contextName,
      preferences: {},
    });
  }
  const contexts = (c.merged.contexts as Raw[]).filter((ctx) => c.listeners!.has(ctx.name));
  const clusterNames = entryNames(contexts, "cluster");
  const userNames = entryNames(contexts, "user");
  const rawClusters = new Map((c.merged.clusters as Raw[]).map((x) => [x.name, x.cluster ?? {}]));
  const out: Raw = { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [], "current-context": c.contextName, preferences: c.merged.preferences ?? {} };
  for (const ctx of contexts) {
    const cluster: Raw = { server: c.listeners.get(ctx.name), "certificate-authority-data": caData };
    const raw = rawClusters.get(ctx.context?.cluster) ?? {};
    for (const f of CLUSTER_FIELDS_KEPT) if (raw[f] !== undefined) cluster[f] = raw[f];
    out.clusters.push({ name: clusterNames.get(ctx.name), cluster });
    out.users.push({ name: userNames.get(ctx.name), user: { token: c.token } });
    const context: Raw = { cluster: clusterNames.get(ctx.name), user: userNames.get(ctx.name) };
    if (ctx.context?.namespace) context.namespace = ctx.context.namespace;
    if (ctx.context?.extensions) context.extensions = ctx.context.extensions;
    out.contexts.push({ name: ctx.name, context });
  }
  if (c.merged.extensions) out.extensions = c.merged.extensions;
  return toYaml(out);
}

/**
 * Block YAML with every string double-quoted (JSON's escapes are YAML's), so no value can change
 * meaning; written by hand because loading the YAML library costs `exec` start-up time.
 */
function toYaml(doc: Raw): string {
  return `${emit(doc, 0).join("\n")}\n`;
}

function emit(value: unknown, indent: number): string[] {
  const pad = " ".repeat(indent);
  const scalar = (v: unknown): string | null => {
    if (Array.isArray(v)) return v.length === 0 ? "[]" : null;
    if (v && typeof v === "object") return Object.keys(v).length === 0 ? "{}" : null;
    return v === undefined ? "null" : JSON.stringify(v);
  };
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const s = scalar(item);
      if (s !== null) return [`${pad}- ${s}`];
      const [first, ...rest] = emit(item, indent + 2);
      return [`${pad}- ${first.slice(indent + 2)}`, ...rest];
    });
  }
  return Object.entries(value as Raw).flatMap(([k, v]) => {
    const key = /^[A-Za-z0-9_][A-Za-z0-9_.\/-]*$/.test(k) ? k : JSON.stringify(k);
    const s = scalar(v);
    return s !== null ? [`${pad}${key}: ${s}`] : [`${pad}${key}:`, ...emit(v, indent + 2)];
  });
}

export function writeClientKubeconfig(path: string, c: ClientKubeconfig): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, clientKubeconfigYaml(c), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    throw new UserError(`cannot write the client kubeconfig ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, "choose another path with --write-kubeconfig");
  }
}
