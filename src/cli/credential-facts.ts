// What `flags` can learn about a recorded context's credentials from the kubeconfig (the rows hold
// only redacted headers): the kind of credential, a JWT's iss/sub/exp, a client certificate's expiry.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import type { CredentialFacts } from "../analyze/lib/rule.js";
import { decodeJwt } from "../doctor/lib/jwt.js";
import { UserError } from "../errors.js";

// Read with yaml alone, not kubeconfig/load.ts: that module loads @kubernetes/client-node (a second of
// start-up), which `flags` does not need to read a few fields.
function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv): string[] {
  if (explicit) {
    if (!existsSync(explicit)) throw new UserError(`kubeconfig ${explicit} does not exist (from --kubeconfig)`);
    return [explicit];
  }
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter((f) => f !== "" && existsSync(f));
  const file = resolve(env.HOME ?? homedir(), ".kube", "config");
  return existsSync(file) ? [file] : [];
}

/** kubectl's merge for the two lists read here: the first file to name a context or user wins; paths made absolute. */
function mergeKubeconfigs(files: string[]): { contexts: any[]; users: any[] } {
  const merged = { contexts: [] as any[], users: [] as any[] };
  for (const file of files) {
    const doc = parse(readFileSync(file, "utf8")) ?? {};
    for (const section of ["contexts", "users"] as const) {
      for (const entry of Array.isArray(doc[section]) ? doc[section] : []) {
        if (typeof entry?.name !== "string" || merged[section].some((e) => e.name === entry.name)) continue;
        if (section === "users" && entry.user) {
          for (const f of ["token-file", "client-certificate"]) {
            if (typeof entry.user[f] === "string" && !isAbsolute(entry.user[f])) entry.user[f] = resolve(dirname(resolve(file)), entry.user[f]);
          }
        }
        merged[section].push(entry);
      }
    }
  }
  return merged;
}

/**
 * Facts for every context of the kubeconfig (--kubeconfig, else KUBECONFIG, else ~/.kube/config),
 * by context name. A missing default kubeconfig gives no facts; a missing --kubeconfig is an error.
 */
export function credentialFacts(kubeconfig?: string, env: NodeJS.ProcessEnv = process.env): Map<string, CredentialFacts> {
  const out = new Map<string, CredentialFacts>();
  let files: string[];
  try {
    files = kubeconfigFiles(kubeconfig, env);
  } catch (err) {
    if (kubeconfig) throw err;
    return out;
  }
  let merged: { contexts: any[]; users: any[] };
  try {
    merged = mergeKubeconfigs(files);
  } catch (err) {
    if (kubeconfig) throw new UserError(`cannot read kubeconfig ${kubeconfig}: ${(err as Error).message.split("\n")[0]}`);
    return out;
  }
  const source = files.length === 1 ? files[0] : files.join(", ");
  for (const ctx of merged.contexts as any[]) {
    const name = ctx.name as string;
    const userName: string = ctx.context?.user ?? "";
    const user = (merged.users as any[]).find((u) => u?.name === userName)?.user ?? {};
    out.set(name, factsOf(name, userName, user, source));
  }
  return out;
}

function factsOf(context: string, user: string, u: Record<string, any>, source: string): CredentialFacts {
  const facts: CredentialFacts = { context, user, kind: "none", source };
  const token = typeof u.token === "string" && u.token ? u.token : typeof u["token-file"] === "string" ? readText(u["token-file"]) : null;
  if (token) {
    facts.kind = "token";
    const claims = decodeJwt(token);
    if (claims) facts.jwt = { iss: claims.iss, sub: claims.sub, exp: claims.exp };
    else facts.opaqueToken = true;
    return facts;
  }
  const certPem = typeof u["client-certificate-data"] === "string" ? Buffer.from(u["client-certificate-data"], "base64").toString("utf8") : typeof u["client-certificate"] === "string" ? readText(u["client-certificate"]) : null;
  if (certPem) {
    facts.kind = "client-certificate";
    try {
      const cert = new X509Certificate(certPem);
      facts.cert = { subject: cert.subject.replace(/\n/g, ", "), notAfter: new Date(cert.validTo).toISOString() };
    } catch {
      /* unreadable certificate: kind alone */
    }
    return facts;
  }
  if (u.exec && typeof u.exec.command === "string") {
    facts.kind = "exec";
    facts.execCommand = [u.exec.command, ...(Array.isArray(u.exec.args) ? u.exec.args : [])].join(" ");
    return facts;
  }
  if (u["auth-provider"]) facts.kind = "auth-provider";
  else if (u.username) facts.kind = "basic";
  return facts;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}
