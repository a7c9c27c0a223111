// Step 1 proves the kubeconfig is sound as kubectl would read it: the files and their merge,
// YAML, keys, the chosen context's cluster and user, embedded and referenced certificates.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { delimiter } from "node:path";
import { contextOf } from "../kubeconfig/load.js";
import { kubeconfigFiles, mergeKubeconfigs, readKubeconfigFile } from "../kubeconfig/read.js";
import { resolveUpstream } from "../kubeconfig/upstream.js";
import type { CheckResult } from "../types.js";
import { errorText, fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const ALL_LATER = [2, 3, 4, 5, 6, 7];
const AFTER_NETWORK = [4, 5, 6, 7];

/** Every key kubectl knows, by where it may appear. */
const KNOWN: Record<string, string[]> = {
  top: ["apiVersion", "kind", "preferences", "clusters", "users", "contexts", "current-context", "extensions"],
  clusterEntry: ["name", "cluster"],
  userEntry: ["name", "user"],
  contextEntry: ["name", "context"],
  cluster: ["server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority", "certificate-authority-data", "proxy-url", "disable-compression", "extensions"],
  user: ["client-certificate", "client-certificate-data", "client-key", "client-key-data", "token", "tokenFile", "token-file", "as", "as-uid", "as-groups", "as-user-extra", "username", "password", "auth-provider", "exec", "extensions"],
  context: ["cluster", "user", "namespace", "extensions"],
  exec: ["apiVersion", "command", "args", "env", "installHint", "provideClusterInfo", "interactiveMode"],
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The known key a misspelt one most likely meant, if any is close. */
export function didYouMean(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = editDistance(key, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return bestD <= (key.length >= 10 ? 3 : 2) ? best : undefined;
}

interface KeyIssue {
  file: string;
  where: string;
  key: string;
  suggestion?: string;
  elsewhere?: string;
}

function lineOf(file: string, key: string): string {
  try {
    const lines = readFileSync(file, "utf8").split("\n");
    const re = new RegExp(`^\\s*(-\\s*)?["']?${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}["']?\\s*:`);
    const i = lines.findIndex((l) => re.test(l));
    return i >= 0 ? `${file}:${i + 1}` : file;
  } catch {
    return file;
  }
}

function checkKeys(file: string, raw: Record<string, any>): KeyIssue[] {
  const issues: KeyIssue[] = [];
  const visit = (obj: unknown, level: string, where: string) => {
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) return;
    for (const key of Object.keys(obj)) {
      if (KNOWN[level].includes(key)) continue;
      const elsewhere = Object.entries(KNOWN).find(([l, keys]) => l !== level && keys.includes(key))?.[0];
      issues.push({ file, where, key, suggestion: didYouMean(key, KNOWN[level]), elsewhere });
    }
  };
  visit(raw, "top", "top level");
  for (const [section, inner] of [["clusters", "cluster"], ["users", "user"], ["contexts", "context"]] as const) {
    for (const entry of Array.isArray(raw[section]) ? raw[section] : []) {
      const name = entry?.name ?? "?";
      visit(entry, `${inner}Entry`, `${section} entry "${name}"`);
      visit(entry?.[inner], inner, `${inner} "${name}"`);
      if (inner === "user") visit(entry?.user?.exec, "exec", `exec of user "${name}"`);
    }
  }
  return issues;
}

function keyCheck(i: KeyIssue): CheckResult {
  const at = `${lineOf(i.file, i.key)}: ${i.where}`;
  if (i.suggestion) return fail("keys", `${at}: unknown key "${i.key}" (kubectl ignores it)`, `did you mean "${i.suggestion}"? rename the key`);
  if (i.elsewhere) return warn("keys", `${at}: "${i.key}" does not belong here (it is a ${i.elsewhere} key); kubectl ignores it`, `move "${i.key}" into the ${i.elsewhere} entry`);
  return warn("keys", `${at}: unknown key "${i.key}" (kubectl ignores it)`, `remove "${i.key}" or check its spelling`);
}

function duplicateChecks(configs: DoctorContext["configs"]): CheckResult[] {
  const out: CheckResult[] = [];
  for (const [section, label] of [["clusters", "cluster"], ["users", "user"], ["contexts", "context"]] as const) {
    const where = new Map<string, string[]>();
    for (const { file, raw } of configs) {
      for (const e of Array.isArray(raw[section]) ? raw[section] : []) {
        if (typeof e?.name === "string") where.set(e.name, [...(where.get(e.name) ?? []), file]);
      }
    }
    for (const [name, files] of where) {
      if (files.length < 2) continue;
      const same = new Set(files).size === 1;
      out.push(
        warn(
          "duplicates",
          same ? `${label} "${name}" is defined ${files.length} times in ${files[0]}; the first one is used` : `${label} "${name}" is defined in ${[...new Set(files)].join(" and ")}; kubectl uses the one in ${files[0]} (first wins)`,
          `rename or remove the other "${name}" entries`,
        ),
      );
    }
  }
  return out;
}

/** Decodes a *-data field strictly: base64 of PEM. Returns the PEM or a problem. */
export function decodePemData(value: unknown, kind: "certificate" | "key"): { pem?: string; problem?: string } {
  if (typeof value !== "string" || value.trim() === "") return { problem: "is empty" };
  const compact = value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return { problem: "is not valid base64" };
  const text = Buffer.from(compact, "base64").toString("utf8");
  return pemProblem(text, kind) ? { problem: `decodes, but ${pemProblem(text, kind)}` } : { pem: text };
}

function pemProblem(text: string, kind: "certificate" | "key"): string | undefined {
  if (kind === "certificate") {
    if (!text.includes("-----BEGIN CERTIFICATE-----")) return text.startsWith("-----BEGIN") ? "holds PEM that is not a certificate" : "does not hold a PEM certificate";
    try {
      new X509Certificate(text);
    } catch (err) {
      return `holds a certificate that does not parse (${errorText(err)})`;
    }
  } else {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return "does not hold a PEM private key";
    try {
      createPrivateKey(text);
    } catch (err) {
      return `holds a key that does not parse (${errorText(err)})`;
    }
  }
  return undefined;
}

interface Material {
  checks: CheckResult[];
  certPem?: string;
  keyPem?: string;
  broken: boolean;
}

/** Certificates and keys of the chosen cluster and user, embedded (-data) or in files. */
function materialChecks(cluster: Record<string, any>, clusterName: string, user: Record<string, any>, userName: string): Material {
  const m: Material = { checks: [], broken: false };
  const bad = (name: string, detail: string, fixText: string) => {
    m.checks.push(fail(name, detail, fixText));
    m.broken = true;
  };
  const item = (entry: Record<string, any>, label: string, field: string, kind: "certificate" | "key", flag: string): string | undefined => {
    const dataKey = `${field}-data`;
    if (entry[dataKey] !== undefined) {
      const r = decodePemData(entry[dataKey], kind);
      if (r.problem) {
        bad(dataKey, `${label}: ${dataKey} ${r.problem}`, `set it to the base64 of the PEM file, on one line: base64 -w0 FILE (or kubectl config ${flag} --embed-certs=true)`);
        return undefined;
      }
      return r.pem;
    }
    const file = entry[field];
    if (typeof file !== "string" || file === "") return undefined;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      bad(field, `${label}: ${field} ${file} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code})`}`, `fix the path (relative paths count from the kubeconfig's folder), or embed the file with kubectl config ${flag} --embed-certs=true`);
      return undefined;
    }
    const p = pemProblem(text, kind);
    if (p) {
      bad(field, `${label}: ${field} ${file} ${p}`, `point ${field} at the PEM file`);
      return undefined;
    }
    return text;
  };
  const ca = item(cluster, `cluster "${clusterName}"`, "certificate-authority", "certificate", `set-cluster ${clusterName} --certificate-authority=FILE`);
  if (ca) {
    const n = ca.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
    m.checks.push(pass("certificate-authority", `cluster "${clusterName}": ${n} CA certificate${n === 1 ? "" : "s"}, ${new X509Certificate(ca).subject.replace(/\n/g, ", ")}`));
  }
  m.certPem = item(user, `user "${userName}"`, "client-certificate", "certificate", `set-credentials ${userName} --client-certificate=FILE`);
  m.keyPem = item(user, `user "${userName}"`, "client-key", "key", `set-credentials ${userName} --client-key=FILE`);
  for (const f of ["token-file", "tokenFile"]) {
    if (typeof user[f] !== "string") continue;
    try {
      readFileSync(user[f]);
    } catch (err) {
      bad(f, `user "${userName}": ${f} ${user[f]} cannot be read (${(err as NodeJS.ErrnoException).code})`, "fix the path to the token file");
    }
  }
  if (m.certPem && m.keyPem) {
    let key: KeyObject | undefined;
    try {
      key = createPrivateKey(m.keyPem);
    } catch {
      /* reported above */
    }
    if (key && !new X509Certificate(m.certPem).checkPrivateKey(key)) {
      bad("client key", `user "${userName}": the client key does not match the client certificate (a different key pair)`, "use the key the certificate was issued for (compare `openssl x509 -noout -pubkey -in CERT` with `openssl pkey -pubout -in KEY`)");
    } else if (key) m.checks.push(pass("client key", `user "${userName}": the client key matches the client certificate`));
  } else if (m.certPem && !m.keyPem && !m.broken) {
    bad("client key", `user "${userName}" has a client certificate but no client key`, "add client-key-data (or client-key) for the certificate");
  } else if (m.keyPem && !m.certPem && !m.broken) {
    bad("client key", `user "${userName}" has a client key but no client certificate`, "add client-certificate-data (or client-certificate)");
  }
  return m;
}

function serverChecks(cluster: Record<string, any>, clusterName: string): { checks: CheckResult[]; url?: URL } {
  const server = cluster.server;
  const label = `cluster "${clusterName}"`;
  if (typeof server !== "string" || server === "") return { checks: [fail("server", `${label} has no server`, `kubectl config set-cluster ${clusterName} --server=https://HOST:6443`)] };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(server)) {
    return { checks: [fail("server", `${label}: server "${server}" has no https:// scheme`, `write it as https://${server}`)] };
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return { checks: [fail("server", `${label}: server "${server}" is not a URL`, "write it as https://HOST:PORT")] };
  }
  const checks: CheckResult[] = [];
  if (url.protocol !== "https:") {
    checks.push(
      url.protocol === "http:"
        ? warn("server", `${label}: server ${server} is plain http: credentials travel unencrypted and kubewire's TLS checks do not apply`, `use https:// (kube-apiserver serves TLS on ${url.port || "6443"})`)
        : fail("server", `${label}: server ${server} has scheme ${url.protocol.replace(":", "")}`, "use https://HOST:PORT"),
    );
  } else checks.push(pass("server", `${label}: ${url.origin}`));
  if (url.pathname !== "/" && url.pathname !== "") {
    checks.push(warn("server path", `${label}: server ${server} has the path ${url.pathname}; every request goes under it`, `remove ${url.pathname} unless the API server is published under that prefix (e.g. behind Rancher)`));
  }
  const hasCa = !!(cluster["certificate-authority"] || cluster["certificate-authority-data"]);
  if (cluster["insecure-skip-tls-verify"] === true) {
    if (hasCa) checks.push(fail("insecure-skip-tls-verify", `${label} sets insecure-skip-tls-verify together with a CA; kubectl refuses: "specifying a root certificates file with the insecure flag is not allowed"`, "remove insecure-skip-tls-verify (keep the CA)"));
    else checks.push(warn("insecure-skip-tls-verify", `${label} does not verify the server certificate (insecure-skip-tls-verify)`, "set certificate-authority-data to the cluster CA and remove insecure-skip-tls-verify"));
  }
  return { checks, url: url.protocol === "https:" || url.protocol === "http:" ? url : undefined };
}

export const kubeconfigStructure: Step = {
  number: 1,
  name: "kubeconfig structure",
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const { opts } = ctx;
    const checks: CheckResult[] = [];
    const stop = (c: CheckResult): StepOutcome => ({ checks: [...checks, c], blocks: ALL_LATER });
    try {
      ctx.files = kubeconfigFiles(opts.kubeconfig, opts.env);
    } catch (err) {
      return stop(fail("files", errorText(err), (err as { hint?: string }).hint ?? "pass --kubeconfig PATH of an existing file, or fix KUBECONFIG"));
    }
    const listed = !opts.kubeconfig && opts.env.KUBECONFIG ? opts.env.KUBECONFIG.split(delimiter).filter(Boolean) : [];
    const source = opts.kubeconfig ? "--kubeconfig" : listed.length ? "KUBECONFIG" : "the default location";
    checks.push(pass("files", `${ctx.files.join(", ")} (from ${source}${ctx.files.length > 1 ? "; merged in this order, the first to define a name wins" : ""})`));
    const missing = listed.filter((f) => !ctx.files.includes(f));
    if (missing.length) checks.push(warn("files", `KUBECONFIG lists ${missing.join(", ")}, which do${missing.length === 1 ? "es" : ""} not exist (kubectl skips them)`, "remove it from KUBECONFIG or create it"));

    let yamlBroken = false;
    for (const file of ctx.files) {
      try {
        ctx.configs.push({ file, raw: readKubeconfigFile(file) });
      } catch (err) {
        yamlBroken = true;
        checks.push(fail("yaml", errorText(err), "fix the YAML at that line (indentation, a tab, a missing ':' or an unquoted special character)"));
      }
    }
    if (yamlBroken) return { checks, blocks: ALL_LATER };
    checks.push(pass("yaml", `${ctx.files.length} file${ctx.files.length === 1 ? "" : "s"} parsed`));
    const keyIssues = ctx.configs.flatMap(({ file, raw }) => checkKeys(file, raw));
    checks.push(...(keyIssues.length ? keyIssues.map(keyCheck) : [pass("keys", "every key is one kubectl knows")]));
    checks.push(...duplicateChecks(ctx.configs));

    const merged = mergeKubeconfigs(ctx.configs.map((c) => c.raw));
    const contexts: Array<Record<string, any>> = merged.contexts;
    const names = contexts.map((c) => c.name);
    const contextName: string = opts.context || merged["current-context"];
    const list = names.length ? names.join(", ") : "none";
    if (!contextName) {
      return stop(fail("current-context", `no current-context is set and --context was not given (contexts: ${list})`, names.length ? `kubectl config use-context ${names[0]}` : "add a context: kubectl config set-context NAME --cluster=CLUSTER --user=USER"));
    }
    const ctxEntry = contexts.find((c) => c.name === contextName);
    if (!ctxEntry) {
      const origin = opts.context ? "--context" : "current-context";
      const guess = didYouMean(contextName, names) ?? names[0];
      return stop(fail("current-context", `${origin} "${contextName}" names no context in ${ctx.files.join(", ")} (contexts: ${list})`, guess ? `kubectl config use-context ${guess}` : "add the context with kubectl config set-context"));
    }
    checks.push(pass("current-context", `"${contextName}"${opts.context ? " (from --context)" : ""}`));
    const clusterName: string = ctxEntry.context?.cluster ?? "";
    const userName: string = ctxEntry.context?.user ?? "";
    const clusterEntry = (merged.clusters as Array<Record<string, any>>).find((c) => c.name === clusterName);
    const userEntry = (merged.users as Array<Record<string, any>>).find((u) => u.name === userName);
    if (!clusterEntry) {
      const have = (merged.clusters as Array<Record<string, any>>).map((c) => c.name);
      return stop(fail("context entries", `context "${contextName}" names cluster "${clusterName}", which is not defined (clusters: ${have.join(", ") || "none"})`, `kubectl config set-context ${contextName} --cluster=${didYouMean(clusterName, have) ?? have[0] ?? "CLUSTER"}`));
    }
    if (userName && !userEntry) {
      const have = (merged.users as Array<Record<string, any>>).map((u) => u.name);
      return stop(fail("context entries", `context "${contextName}" names user "${userName}", which is not defined (users: ${have.join(", ") || "none"})`, `kubectl config set-context ${contextName} --user=${didYouMean(userName, have) ?? have[0] ?? "USER"}`));
    }
    checks.push(pass("context entries", `cluster "${clusterName}", user "${userName || "(none)"}", namespace "${ctxEntry.context?.namespace || "default"}"`));
    ctx.cluster = clusterEntry.cluster ?? {};
    ctx.user = userEntry?.user ?? {};
    ctx.namespace = opts.namespace || ctxEntry.context?.namespace || "default";

    const server = serverChecks(ctx.cluster!, clusterName);
    checks.push(...server.checks);
    ctx.server = server.url;
    const material = materialChecks(ctx.cluster!, clusterName, ctx.user!, userName);
    checks.push(...material.checks);
    ctx.clientCertPem = material.certPem;
    if (!server.url) return { checks, blocks: ALL_LATER.slice(1) };

    try {
      ctx.loaded = contextOf(ctx.files, merged, contextName); // the files step 1 read, not read again
      if (!material.broken) ctx.upstream = await resolveUpstream(ctx.loaded);
    } catch (err) {
      checks.push(fail("load", errorText(err), (err as { hint?: string }).hint ?? "fix the entry named above"));
      return { checks, blocks: ctx.loaded ? AFTER_NETWORK : ALL_LATER };
    }
    if (material.broken || checks.some((c) => c.status === "fail" && c.name === "insecure-skip-tls-verify")) return { checks, blocks: AFTER_NETWORK };
    return { checks };
  },
};
