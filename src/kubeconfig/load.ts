// Finds and reads the user's kubeconfig as kubectl does (--kubeconfig, else the
// KUBECONFIG list merged with first-wins rules, else ~/.kube/config) and picks the context.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, resolve } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { parseDocument } from "yaml";
import { UserError } from "../errors.js";

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
  kc: KubeConfig;
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

/** The files kubectl would read, in order. */
export function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (explicit) {
    if (!existsSync(explicit)) throw new UserError(`kubeconfig ${explicit} does not exist (from --kubeconfig)`);
    return [explicit];
  }
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((f) => f !== "");
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) throw new UserError(`none of the KUBECONFIG files exist: ${files.join(", ")}`);
    return present;
  }
  const home = env.HOME ?? homedir();
  const file = resolve(home, ".kube", "config");
  if (!existsSync(file)) {
    throw new UserError(`no kubeconfig: ${file} does not exist`, "pass --kubeconfig PATH or set KUBECONFIG");
  }
  return [file];
}

/** Parses one file, reporting YAML errors with file and line. */
export function readKubeconfigFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    throw new UserError(`kubeconfig ${file}${line ? `:${line}` : ""}: invalid YAML: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  const value = doc.toJS() ?? {};
  if (typeof value !== "object" || Array.isArray(value)) throw new UserError(`kubeconfig ${file}: not a kubeconfig (expected a mapping)`);
  makePathsAbsolute(value, dirname(resolve(file)));
  return value as Raw;
}

const PATH_FIELDS: Array<[section: string, inner: string, fields: string[]]> = [
  ["clusters", "cluster", ["certificate-authority"]],
  ["users", "user", ["client-certificate", "client-key", "token-file"]],
];

function makePathsAbsolute(config: Raw, base: string): void {
  for (const [section, inner, fields] of PATH_FIELDS) {
    for (const entry of asList(config[section])) {
      const body = entry?.[inner];
      if (!body || typeof body !== "object") continue;
      for (const f of fields) if (typeof body[f] === "string" && body[f] !== "" && !isAbsolute(body[f])) body[f] = resolve(base, body[f]);
      const exec = body.exec;
      if (exec && typeof exec.command === "string" && exec.command.includes("/") && !isAbsolute(exec.command)) {
        exec.command = resolve(base, exec.command);
      }
    }
  }
}

function asList(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

/** kubectl's merge: the first file to define a name, or current-context, wins. */
export function mergeKubeconfigs(configs: Raw[]): Raw {
  const merged: Raw = { apiVersion: "v1", kind: "Config", clusters: [], users: [], contexts: [], "current-context": "" };
  for (const section of ["clusters", "users", "contexts"]) {
    const seen = new Set<string>();
    for (const config of configs) {
      for (const entry of asList(config[section]) as Named[]) {
        if (!entry || typeof entry.name !== "string" || seen.has(entry.name)) continue;
        seen.add(entry.name);
        merged[section].push(entry);
      }
    }
  }
  merged["current-context"] = configs.map((c) => c["current-context"]).find((c) => typeof c === "string" && c !== "") ?? "";
  return merged;
}

export function loadKubeconfig(opts: LoadOptions = {}): LoadedKubeconfig {
  const files = kubeconfigFiles(opts.kubeconfig, opts.env ?? process.env);
  const merged = mergeKubeconfigs(files.map(readKubeconfigFile));
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
  const kc = new KubeConfig();
  try {
    kc.loadFromString(JSON.stringify({ ...merged, "current-context": contextName }), { onInvalidEntry: "filter" });
  } catch (err) {
    throw new UserError(`${where}: ${(err as Error).message}`);
  }
  if (!kc.getUser(userName) && userName) throw new UserError(`user "${userName}" in ${where} is not valid`);
  return { files, merged, kc, contextName, clusterName, userName, namespace: ctx.context?.namespace || "default" };
}
