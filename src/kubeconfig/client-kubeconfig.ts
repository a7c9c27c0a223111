// Writes the kubeconfig that clients use to reach the proxy: the user's kubeconfig under its own names
// (every cluster, user and context entry, namespaces and current context), each cluster entry at its
// own kubewire listener (so client caches never mix clusters) trusting the local CA, and each user
// entry holding its own proxy token (kubewire-side, the token selects the user's credentials). Mode 0600.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { UserError } from "../errors.js";
import { NO_USER_ENTRY } from "./identities.js";

type Raw = Record<string, any>;

export interface ClientKubeconfig {
  /** the generated kubeconfig's current-context */
  contextName: string;
  /** the selected context's namespace (used when `merged` is not given) */
  namespace: string;
  /** the selected context's listener (used when `merged` is not given) */
  proxyUrl: string;
  caPem: string;
  /** the selected context's proxy token (used when `merged` is not given) */
  token: string;
  /** the user's merged kubeconfig, for the whole-kubeconfig form */
  merged?: Raw;
  /** cluster entry name → its listener URL; a cluster without one keeps its name and no server */
  clusterUrls?: Map<string, string>;
  /** user entry name → its proxy token ("": contexts naming no user, given the entry NO_USER_ENTRY) */
  tokens?: Map<string, string>;
}

/** Cluster fields kubectl reads that still hold through kubewire; server, CA, TLS name and proxy-url are kubewire's. */
const CLUSTER_FIELDS_KEPT = ["disable-compression", "extensions"];

function named(list: unknown): Raw[] {
  return Array.isArray(list) ? list.filter((e) => e && typeof e.name === "string") : [];
}

export function clientKubeconfigYaml(c: ClientKubeconfig): string {
  const caData = Buffer.from(c.caPem).toString("base64");
  if (!c.merged || !c.clusterUrls || !c.tokens) {
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
  const out: Raw = { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [], "current-context": c.contextName, preferences: c.merged.preferences ?? {} };
  for (const entry of named(c.merged.clusters)) {
    const raw: Raw = entry.cluster ?? {};
    const url = c.clusterUrls.get(entry.name);
    // no listener (no usable server): kubectl fails on this cluster as it does without kubewire
    const cluster: Raw = url ? { server: url, "certificate-authority-data": caData } : {};
    for (const f of CLUSTER_FIELDS_KEPT) if (raw[f] !== undefined) cluster[f] = raw[f];
    out.clusters.push({ name: entry.name, cluster });
  }
  for (const entry of named(c.merged.users)) {
    const token = c.tokens.get(entry.name);
    if (token) out.users.push({ name: entry.name, user: { token } });
  }
  const noUser = c.tokens.get("");
  if (noUser) out.users.push({ name: NO_USER_ENTRY, user: { token: noUser } });
  for (const ctx of named(c.merged.contexts)) {
    const context: Raw = { ...(ctx.context ?? {}) };
    if (!context.user && noUser) context.user = NO_USER_ENTRY;
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
