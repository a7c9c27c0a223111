// The in-cluster step proves what InClusterConfig would use inside a Pod: the service host and
// port variables, the service account token (and its expiry), the CA file and the namespace file,
// then connects with them: TLS to the service verified by ca.crt, and a SelfSubjectReview with the token.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import type { CheckResult } from "../types.js";
import { tokenCheck } from "./credentials.js";
import { errorText, fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

export const inCluster: Step = {
  number: 8,
  name: "in-cluster",
  applies: (ctx) => ctx.opts.inCluster || (!!ctx.opts.env.KUBERNETES_SERVICE_HOST && existsSync(join(ctx.opts.serviceAccountDir, "token"))),
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const { env, serviceAccountDir: dir } = ctx.opts;
    const checks: CheckResult[] = [];
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (host && port) checks.push(pass("service", `KUBERNETES_SERVICE_HOST/PORT → https://${host.includes(":") ? `[${host}]` : host}:${port}`));
    else checks.push(fail("service", `KUBERNETES_SERVICE_HOST${host ? "" : " (unset)"} and KUBERNETES_SERVICE_PORT${port ? "" : " (unset)"}: InClusterConfig fails ("unable to load in-cluster configuration")`, "run inside a Pod (the kubelet sets both), or set them to the API server's service address"));
    const tokenFile = join(dir, "token");
    try {
      const c = tokenCheck(ctx, readFileSync(tokenFile, "utf8"), `service account token ${tokenFile}`);
      checks.push({ ...c, name: "service account token", ...(c.status === "fail" ? { fix: "the projected token should be refreshed by the kubelet: restart the Pod; check the kubelet" } : {}) });
    } catch (err) {
      checks.push(fail("service account token", `${tokenFile}: ${errorText(err)}`, "mount a service account token: set automountServiceAccountToken: true on the Pod or its ServiceAccount"));
    }
    const caFile = join(dir, "ca.crt");
    try {
      const cert = new X509Certificate(readFileSync(caFile));
      const until = new Date(cert.validTo).toISOString();
      const subject = cert.subject.replace(/\n/g, ", ");
      if (Date.parse(cert.validTo) <= Date.now()) checks.push(fail("ca.crt", `${caFile}: ${subject}, expired ${until}: TLS to the API server cannot verify`, "the cluster CA has expired: rotate the cluster CA, then restart the Pod so the new kube-root-ca.crt is mounted"));
      else checks.push(pass("ca.crt", `${caFile}: ${subject}, valid until ${until}`));
    } catch (err) {
      checks.push(fail("ca.crt", `${caFile}: ${errorText(err)}`, "the service account volume is incomplete: check automountServiceAccountToken and the kube-root-ca.crt ConfigMap"));
    }
    if (host && port && checks.every((c) => c.status !== "fail")) checks.push(...(await connect(`https://${host.includes(":") ? `[${host}]` : host}:${port}`, readFileSync(caFile, "utf8"), readFileSync(tokenFile, "utf8").trim(), ctx.opts.timeoutMs)));
    const nsFile = join(dir, "namespace");
    try {
      checks.push(pass("namespace", `${nsFile}: ${readFileSync(nsFile, "utf8").trim()}`));
    } catch (err) {
      checks.push(warn("namespace", `${nsFile}: ${errorText(err)}; clients fall back to "default"`, "mount the service account volume, or set the namespace explicitly"));
    }
    return { checks };
  },
};

/** Node's TLS error codes as the Go client in the Pod would word them. */
const TLS_WORDS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "x509: certificate signed by unknown authority",
  SELF_SIGNED_CERT_IN_CHAIN: "x509: certificate signed by unknown authority",
  DEPTH_ZERO_SELF_SIGNED_CERT: "x509: certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "x509: certificate signed by unknown authority",
  CERT_HAS_EXPIRED: "x509: certificate has expired or is not yet valid",
  CERT_NOT_YET_VALID: "x509: certificate has expired or is not yet valid",
  ERR_TLS_CERT_ALTNAME_INVALID: "x509: certificate is not valid for this host",
};

/** TLS to the service address verified with ca.crt, then POST a SelfSubjectReview with the token: who the API server says the Pod is. */
async function connect(server: string, caPem: string, token: string, timeoutMs: number): Promise<CheckResult[]> {
  const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
  const answer = await new Promise<{ status: number; text: string; tls: string } | { error: NodeJS.ErrnoException }>((resolve) => {
    const req = request(
      `${server}/apis/authentication.k8s.io/v1/selfsubjectreviews`,
      { method: "POST", ca: caPem, timeout: timeoutMs, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        const socket = res.socket as import("node:tls").TLSSocket;
        const tls = `${socket.getProtocol?.() ?? "TLS"}`;
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text, tls }));
        res.on("error", (error) => resolve({ error }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ error }));
    req.end(body);
  });
  if ("error" in answer) {
    const code = answer.error.code ?? "";
    const words = TLS_WORDS[code];
    if (words) return [fail("connect", `TLS to ${server} with ca.crt: ${words} (${code}: ${answer.error.message})`, "ca.crt is not the CA that signed the API server's certificate: check the kube-root-ca.crt ConfigMap and restart the Pod")];
    return [fail("connect", `${server}: ${code ? `${code}: ` : ""}${answer.error.message}`, "check that the Pod can reach the kubernetes Service (NetworkPolicy, kube-proxy)")];
  }
  const checks: CheckResult[] = [pass("connect", `TLS to ${server} verified with ca.crt (${answer.tls})`)];
  if (answer.status === 201 || answer.status === 200) {
    let username = "";
    try {
      username = String(JSON.parse(answer.text)?.status?.userInfo?.username ?? "");
    } catch {
      /* not JSON */
    }
    checks.push(username ? pass("identity", `the API server knows the token as ${username}`) : warn("identity", `SelfSubjectReview answered ${answer.status} without a user name`, "the API server may be older than 1.28 (SelfSubjectReview is GA there)"));
  } else if (answer.status === 401) {
    checks.push(fail("identity", "the API server refused the service account token (401 Unauthorized)", "the token is expired, revoked, or for another cluster: restart the Pod so the kubelet projects a fresh one"));
  } else {
    let message = "";
    try {
      message = String(JSON.parse(answer.text)?.message ?? "");
    } catch {
      message = answer.text.slice(0, 200);
    }
    checks.push(warn("identity", `SelfSubjectReview answered ${answer.status}${message ? `: ${message}` : ""}`, "the token works for TLS but the review failed: see the message"));
  }
  return checks;
}
