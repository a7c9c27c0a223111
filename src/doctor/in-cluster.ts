// The in-cluster step proves what InClusterConfig would use inside a Pod: the service host and
// port variables, the service account token (and its expiry), the CA file and the namespace file.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
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
    const nsFile = join(dir, "namespace");
    try {
      checks.push(pass("namespace", `${nsFile}: ${readFileSync(nsFile, "utf8").trim()}`));
    } catch (err) {
      checks.push(warn("namespace", `${nsFile}: ${errorText(err)}; clients fall back to "default"`, "mount the service account volume, or set the namespace explicitly"));
    }
    return { checks };
  },
};
