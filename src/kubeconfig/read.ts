// Finds and parses the user's kubeconfig files as kubectl does (--kubeconfig, else the KUBECONFIG
// list, else ~/.kube/config) and merges them first-wins; plain block YAML without the YAML library
// (kubeconfig/fast-yaml.ts), so `exec` and the query commands start fast.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, resolve } from "node:path";
import { createRequire } from "node:module";
import { UserError } from "../errors.js";
import { parsePlainYaml } from "./fast-yaml.js";

/** The YAML library, loaded only for a kubeconfig beyond plain block YAML or with an error to report. */
const yaml = (): typeof import("yaml") => createRequire(import.meta.url)("yaml");

type Raw = Record<string, any>;
interface Named {
  name: string;
  [k: string]: any;
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
  const plain = parsePlainYaml(text);
  if (plain) {
    makePathsAbsolute(plain, dirname(resolve(file)));
    return plain;
  }
  const doc = yaml().parseDocument(text, { prettyErrors: true });
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
  ["users", "user", ["client-certificate", "client-key", "token-file", "tokenFile"]],
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
