// The whole kubeconfig as kubewire serves it: one listener per cluster entry and one proxy token per
// user entry, so a request's (listener, token) pair names a (cluster, user) pair, its upstream
// identity; and which context a pair's exchanges are recorded under.
import { randomBytes } from "node:crypto";
import type { LoadedKubeconfig } from "./load.js";

type Raw = Record<string, any>;

/** The user entry the generated kubeconfig gives a context that names none (kubectl then sends no credentials; kubewire needs its token). */
export const NO_USER_ENTRY = "kubewire-no-user";

export interface KubeconfigIdentities {
  /** cluster entries kubewire listens for (a server URL kubectl could use), the chosen context's first */
  clusters: string[];
  /** user name → its proxy token; "" is the user of contexts that name none */
  tokens: Map<string, string>;
  /** the chosen context: its pair is recorded under it */
  chosen: string;
}

function named(list: unknown): Raw[] {
  return Array.isArray(list) ? list.filter((e) => e && typeof e.name === "string") : [];
}

/** A server URL kubectl would use; a cluster entry without one gets no listener (kubectl fails on it directly too). */
export function usableServer(cluster: Raw | undefined): boolean {
  const server = cluster?.server;
  if (typeof server !== "string" || server === "") return false;
  try {
    return new URL(server).protocol === "https:" || new URL(server).protocol === "http:";
  } catch {
    return false;
  }
}

/** The listeners and tokens of a run, starting from the chosen context (already checked by contextOf). */
export function identitiesOf(chosen: LoadedKubeconfig): KubeconfigIdentities {
  const { merged } = chosen;
  const clusters = [chosen.clusterName, ...named(merged.clusters).filter((c) => c.name !== chosen.clusterName && usableServer(c.cluster)).map((c) => c.name as string)];
  const users = [chosen.userName, ...named(merged.users).map((u) => u.name as string)];
  if (named(merged.contexts).some((c) => !c.context?.user)) users.push("");
  const tokens = new Map<string, string>();
  for (const u of users) if (!tokens.has(u)) tokens.set(u, randomBytes(32).toString("base64url"));
  return { clusters, tokens, chosen: chosen.contextName };
}

/**
 * The context a (cluster, user) pair is recorded under: the chosen one when it names the pair, else
 * the first that does (contexts that differ only in namespace share one upstream identity), else ""
 * (kubectl --cluster C --user U with a pair no context names).
 */
export function contextForPair(merged: Raw, chosen: string, cluster: string, user: string): Raw | null {
  const naming = named(merged.contexts).filter((c) => c.context?.cluster === cluster && (c.context?.user ?? "") === user);
  return naming.find((c) => c.name === chosen) ?? naming[0] ?? null;
}

/** A (cluster, user) pair read as the context that names it, for resolveUpstream. */
export function pairOf(chosen: LoadedKubeconfig, cluster: string, user: string): LoadedKubeconfig {
  const ctx = contextForPair(chosen.merged, chosen.contextName, cluster, user);
  return { files: chosen.files, merged: chosen.merged, contextName: ctx?.name ?? "", clusterName: cluster, userName: user, namespace: ctx?.context?.namespace || "default" };
}

/** Which user a cluster's listener takes as its first identity: the chosen context's on its cluster, else that of the first context naming the cluster. */
export function firstUserOf(chosen: LoadedKubeconfig, cluster: string): string {
  if (cluster === chosen.clusterName) return chosen.userName;
  const users = new Set(["", ...named(chosen.merged.users).map((u) => u.name as string)]);
  const ctx = named(chosen.merged.contexts).find((c) => c.context?.cluster === cluster && users.has(c.context?.user ?? ""));
  return ctx ? (ctx.context?.user ?? "") : chosen.userName;
}
