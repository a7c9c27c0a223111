// What `flags` can learn about a recorded context's credentials from the kubeconfig (the rows hold
// only redacted headers): the kind of credential, a JWT's iss/sub/exp, a client certificate's expiry.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CredentialFacts } from "../analyze/lib/rule.js";
import { decodeJwt } from "../doctor/lib/jwt.js";
import { maskArgv } from "../kubeconfig/exec-plugin.js";
import { kubeconfigFiles, mergeKubeconfigs, readKubeconfigFile } from "../kubeconfig/read.js";

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
  let merged: Record<string, any>;
  try {
    merged = mergeKubeconfigs(files.map(readKubeconfigFile));
  } catch (err) {
    if (kubeconfig) throw err; // a UserError naming the file and line
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
    // printed by `flags`: secret-looking argv values masked (--client-secret=***, --token ***)
    facts.execCommand = maskArgv([u.exec.command, ...(Array.isArray(u.exec.args) ? u.exec.args.map(String) : [])]);
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
