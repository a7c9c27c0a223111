// Finds and reads the user's kubeconfig as kubectl does (--kubeconfig, else the
// KUBECONFIG list merged with first-wins rules, else ~/.kube/config) and picks the context;
// yaml only (no client library), so `exec` starts fast.
import { UserError } from "../errors.js";
import { kubeconfigFiles, mergeKubeconfigs, readKubeconfigFile } from "./read.js";


type Raw = Record<string, any>;
interface Named {
  name: string;
  [k: string]: any;
}

export interface LoadedKubeconfig {
  /** files read, in merge order */
  files: string[];
  /** the merged kubeconfig with relative paths made absolute */
  merged: Raw;
  contextName: string;
  clusterName: string;
  userName: string;
  namespace: string;
}

export interface LoadOptions {
  kubeconfig?: string;
  context?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadKubeconfig(opts: LoadOptions = {}): LoadedKubeconfig {
  const files = kubeconfigFiles(opts.kubeconfig, opts.env ?? process.env);
  return contextOf(files, mergeKubeconfigs(files.map(readKubeconfigFile)), opts.context);
}

/** The context (--context, else current-context) of kubeconfig files already read and merged (kubeconfig/read.ts). */
export function contextOf(files: string[], merged: Raw, context?: string): LoadedKubeconfig {
  const opts = { context };
  const where = files.length === 1 ? files[0] : `${files.length} merged kubeconfig files`;
  const contexts = (merged.contexts as Named[]).map((c) => c.name);
  const contextName = opts.context || merged["current-context"];
  if (!contextName) {
    throw new UserError(`${where} has no current-context`, `pass --context NAME (contexts: ${contexts.join(", ") || "none"})`);
  }
  const ctx = (merged.contexts as Named[]).find((c) => c.name === contextName);
  if (!ctx) {
    const origin = opts.context ? "--context" : "current-context";
    throw new UserError(`context "${contextName}" (from ${origin}) not found in ${where}; contexts: ${contexts.join(", ") || "none"}`);
  }
  const clusterName = ctx.context?.cluster;
  const userName = ctx.context?.user ?? "";
  if (!clusterName || !(merged.clusters as Named[]).some((c) => c.name === clusterName)) {
    throw new UserError(`context "${contextName}" refers to cluster "${clusterName ?? ""}", which is not in ${where}`);
  }
  if (userName && !(merged.users as Named[]).some((u) => u.name === userName)) {
    throw new UserError(`context "${contextName}" refers to user "${userName}", which is not in ${where}`);
  }
  const server = (merged.clusters as Named[]).find((c) => c.name === clusterName)?.cluster?.server;
  if (typeof server !== "string" || server === "") throw new UserError(`cluster "${clusterName}" in ${where} has no server`);
  try {
    new URL(server);
  } catch {
    throw new UserError(`cluster "${clusterName}" in ${where} has an invalid server URL: ${server}`);
  }
  return { files, merged, contextName, clusterName, userName, namespace: ctx.context?.namespace || "default" };
}

/** The selected context's cluster entry (server, certificate-authority...), {} when the kubeconfig names none. */
export function clusterOf(loaded: LoadedKubeconfig): Raw {
  return (loaded.merged.clusters as Array<Record<string, any>> | undefined)?.find((c) => c.name === loaded.clusterName)?.cluster ?? {};
}
