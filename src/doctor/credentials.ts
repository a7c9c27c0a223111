// Step 2 proves the chosen context carries usable credentials: the contexts, the user's
// authentication method, a JWT's or client certificate's validity, an exec plugin's answer.
import { X509Certificate } from "node:crypto";
import { execFile } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { authMethodOf } from "../kubeconfig/upstream.js";
import { table } from "../format/output.js";
import type { CheckResult } from "../types.js";
import { decodeJwt, describeClaims } from "./lib/jwt.js";
import { errorText, fail, pass, relative, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const TOKEN_SOON_MS = 3600 * 1000;
const CERT_SOON_MS = 7 * 24 * 3600 * 1000;

function contextsTable(ctx: DoctorContext): string {
  const seen = new Set<string>();
  const rows: string[][] = [];
  const current = ctx.loaded?.contextName;
  for (const { raw } of ctx.configs) {
    for (const c of Array.isArray(raw.contexts) ? raw.contexts : []) {
      if (typeof c?.name !== "string" || seen.has(c.name)) continue;
      seen.add(c.name);
      rows.push([c.name === current ? "*" : "", c.name, c.context?.cluster ?? "", c.context?.user ?? "", c.context?.namespace ?? ""]);
    }
  }
  return table(["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"], rows).trimEnd();
}

/** A bearer token's expiry, decoded when it is a JWT. */
export function tokenCheck(ctx: DoctorContext, token: string, origin: string): CheckResult {
  const claims = decodeJwt(token);
  if (!claims) return pass("token", `${origin}: an opaque token (${token.trim().length} characters); only the server can tell whether it is valid`);
  const who = describeClaims(claims);
  const now = Date.now();
  if (claims.exp === undefined) return pass("token", `${origin}: a JWT (${who}) without expiry`);
  const when = `${new Date(claims.exp).toISOString()} (${relative(claims.exp, now)})`;
  if (claims.exp <= now) {
    ctx.expiredCredential = `the JWT expired at ${when}`;
    return fail("token", `${origin}: a JWT (${who}) that expired at ${when}`, claims.sub?.startsWith("system:serviceaccount:") ? `get a new token: kubectl create token ${claims.sub.split(":")[3]} -n ${claims.sub.split(":")[2]}` : "get a new token from your identity provider (log in again) and update the kubeconfig");
  }
  if (claims.nbf !== undefined && claims.nbf > now + 60_000) return warn("token", `${origin}: a JWT (${who}) not valid before ${new Date(claims.nbf).toISOString()}`, "check this machine's clock");
  if (claims.exp - now < TOKEN_SOON_MS) return warn("token", `${origin}: a JWT (${who}) that expires at ${when}`, "renew it soon");
  return pass("token", `${origin}: a JWT (${who}) valid until ${when}`);
}

function certificateCheck(ctx: DoctorContext, pem: string, origin: string): CheckResult {
  const cert = new X509Certificate(pem);
  const subject = cert.subject.split("\n");
  const cn = subject.find((s) => s.startsWith("CN="))?.slice(3) ?? "";
  const groups = subject.filter((s) => s.startsWith("O=")).map((s) => s.slice(2));
  const who = `CN=${cn}${groups.length ? `, groups ${groups.join(", ")}` : ""}`;
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const now = Date.now();
  if (to <= now) {
    ctx.expiredCredential = `the client certificate expired at ${new Date(to).toISOString()}`;
    return fail("client certificate", `${origin}: ${who}, expired ${new Date(to).toISOString()} (${relative(to, now)})`, "get a new client certificate (kubeadm certs renew, or ask the cluster admin) and update the kubeconfig");
  }
  if (from > now) {
    ctx.expiredCredential = `the client certificate is not valid before ${new Date(from).toISOString()}`;
    return fail("client certificate", `${origin}: ${who}, not valid before ${new Date(from).toISOString()} (${relative(from, now)})`, "check this machine's clock");
  }
  if (to - now < CERT_SOON_MS) return warn("client certificate", `${origin}: ${who}, expires ${new Date(to).toISOString()} (${relative(to, now)})`, "renew the client certificate soon");
  return pass("client certificate", `${origin}: ${who}, valid until ${new Date(to).toISOString()} (${relative(to, now)})`);
}

function onPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  const candidates = command.includes("/") ? [command] : (env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, command));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function execChecks(ctx: DoctorContext, exec: Record<string, any>): Promise<{ checks: CheckResult[]; broken: boolean }> {
  const command = String(exec.command ?? "");
  const hint = typeof exec.installHint === "string" ? exec.installHint.trim().split("\n")[0] : "";
  const path = onPath(command, ctx.opts.env);
  if (!path) return { checks: [fail("exec plugin", `${command || "(no command)"} is not on PATH`, hint || `install ${command} or put its folder on PATH`)], broken: true };
  const checks = [pass("exec plugin", `${command} found at ${path}`)];
  const apiVersion = String(exec.apiVersion ?? "client.authentication.k8s.io/v1");
  const env: NodeJS.ProcessEnv = { ...ctx.opts.env };
  for (const e of Array.isArray(exec.env) ? exec.env : []) if (e?.name) env[e.name] = String(e.value ?? "");
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: "ExecCredential", spec: { interactive: false } });
  const started = performance.now();
  const result = await new Promise<{ err: (Error & { code?: unknown; killed?: boolean }) | null; stdout: string; stderr: string }>((done) =>
    execFile(path, (exec.args ?? []).map(String), { env, timeout: ctx.opts.timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => done({ err, stdout: String(stdout), stderr: String(stderr) })),
  );
  const ms = Math.round(performance.now() - started);
  if (result.err) {
    const why = result.err.killed ? `did not finish within ${ctx.opts.timeoutMs} ms` : `failed (exit ${String(result.err.code)}): ${result.stderr.trim().split("\n")[0] ?? ""}`;
    checks.push(fail("exec credential", `${command} ${why}`, result.err.killed ? "run the plugin by hand: it may be waiting for a login prompt" : hint || "run the plugin by hand and fix what it reports (often: log in again)"));
    return { checks, broken: true };
  }
  let cred: any;
  try {
    cred = JSON.parse(result.stdout);
  } catch {
    checks.push(fail("exec credential", `${command} printed no JSON ExecCredential on stdout`, "the plugin must print an ExecCredential object; check its arguments"));
    return { checks, broken: true };
  }
  const status = cred?.status ?? {};
  if (cred?.kind !== "ExecCredential" || (cred.apiVersion && cred.apiVersion !== apiVersion)) {
    checks.push(fail("exec credential", `${command} returned kind ${cred?.kind ?? "?"}, apiVersion ${cred?.apiVersion ?? "?"}; the kubeconfig asks for ${apiVersion}`, `set exec.apiVersion to the version the plugin speaks (${cred?.apiVersion ?? "client.authentication.k8s.io/v1"})`));
    return { checks, broken: true };
  }
  if (!status.token && !(status.clientCertificateData && status.clientKeyData)) {
    checks.push(fail("exec credential", `${command} returned an ExecCredential with neither a token nor a client certificate and key`, hint || "run the plugin by hand; it may need a login first"));
    return { checks, broken: true };
  }
  const exp = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : NaN;
  const expiry = Number.isNaN(exp) ? "no expiry" : `expires ${new Date(exp).toISOString()} (${relative(exp)})`;
  const claims = status.token ? decodeJwt(status.token) : null;
  const kind = status.token ? (claims ? `a JWT (${describeClaims(claims)})` : "a token") : "a client certificate";
  if (!Number.isNaN(exp) && exp <= Date.now()) {
    ctx.expiredCredential = `the exec plugin returned a credential that expired at ${new Date(exp).toISOString()}`;
    checks.push(fail("exec credential", `${command} returned ${kind} that already expired (${expiry})`, "log in again with the plugin's own login command"));
  } else checks.push(pass("exec credential", `${command} returned ${kind} in ${ms} ms, ${expiry}`));
  if (status.token) checks.push(tokenCheck(ctx, status.token, "exec token"));
  return { checks, broken: false };
}

export const credentials: Step = {
  number: 2,
  name: "context and credentials",
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const checks: CheckResult[] = [pass("contexts", contextsTable(ctx))];
    const user = ctx.user ?? {};
    const name = ctx.loaded?.userName ?? "";
    const method = authMethodOf(user);
    const label = `user "${name}"`;
    switch (method) {
      case "none":
        checks.push(warn("auth method", `${label} has no credentials: requests are anonymous`, `add credentials: kubectl config set-credentials ${name || "USER"} --token=... (or a client certificate)`));
        break;
      case "basic":
        checks.push(warn("auth method", `${label} uses basic auth (username and password), which kube-apiserver removed in 1.19`, "use a token, a client certificate or an exec plugin"));
        break;
      case "auth-provider":
        checks.push(warn("auth method", `${label} uses the auth-provider "${user["auth-provider"]?.name ?? "?"}", which kubectl removed in 1.26`, "switch to the exec plugin (gke-gcloud-auth-plugin, kubelogin, ...)"));
        break;
      default:
        checks.push(pass("auth method", `${label} authenticates with ${method === "exec" ? `an exec plugin (${user.exec?.command ?? "?"})` : method}`));
    }
    let blocks: number[] | undefined;
    if (method === "token" && typeof user.token === "string") checks.push(tokenCheck(ctx, user.token, "token"));
    for (const f of ["token-file", "tokenFile"]) {
      if (typeof user[f] !== "string") continue;
      try {
        checks.push(tokenCheck(ctx, readFileSync(user[f], "utf8"), `${f} ${user[f]}`));
      } catch (err) {
        checks.push(fail("token", `${f} ${user[f]}: ${errorText(err)}`, "fix the path to the token file"));
      }
    }
    if (method === "auth-provider") {
      const idToken = user["auth-provider"]?.config?.["id-token"];
      if (typeof idToken === "string") checks.push(tokenCheck(ctx, idToken, "auth-provider id-token"));
    }
    if (ctx.clientCertPem) checks.push(certificateCheck(ctx, ctx.clientCertPem, "client certificate"));
    if (method === "exec" && user.exec) {
      const r = await execChecks(ctx, user.exec);
      checks.push(...r.checks);
      // without a credential the proxy refuses every request: asking the server is pointless
      if (r.broken) blocks = [5, 6, 7];
    }
    return { checks, blocks };
  },
};
