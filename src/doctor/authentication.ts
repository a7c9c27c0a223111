// Step 6 proves the server accepts the credentials: a SelfSubjectReview says who it thinks
// we are, with groups; on 401 it says why (missing, expired or rejected).
import { authMethodOf } from "../kubeconfig/upstream.js";
import type { CheckResult } from "../types.js";
import { answerProblem, answerText } from "./lib/proxy-client.js";
import { errorText, fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const VERSIONS = ["v1", "v1beta1", "v1alpha1"];

function unauthorized(ctx: DoctorContext): CheckResult {
  const method = authMethodOf(ctx.user);
  const user = ctx.loaded?.userName ?? "";
  if (method === "none") return fail("whoami", "401 Unauthorized: no credentials are sent (the user entry has none) and the server does not allow anonymous requests", `add credentials: kubectl config set-credentials ${user || "USER"} --token=...`);
  if (ctx.expiredCredential) return fail("whoami", `401 Unauthorized: the credentials are expired: ${ctx.expiredCredential}`, "renew the credentials (see step 2) and update the kubeconfig");
  const what = method === "client-certificate" ? "client certificate (not signed by the cluster's client CA?)" : method === "exec" ? "token the exec plugin returned" : method === "basic" ? "username and password" : "token";
  return fail("whoami", `401 Unauthorized: the server rejected the ${what}: it is unknown, revoked or for another cluster`, method === "exec" ? "log in again with the plugin and check it targets this cluster" : `get valid credentials for this cluster and run kubectl config set-credentials ${user || "USER"} ...`);
}

export const authentication: Step = {
  number: 6,
  name: "authentication",
  needsProxy: true,
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    for (const v of VERSIONS) {
      let a;
      try {
        a = await ctx.client!.request("POST", `/apis/authentication.k8s.io/${v}/selfsubjectreviews`, { apiVersion: `authentication.k8s.io/${v}`, kind: "SelfSubjectReview", metadata: {} });
      } catch (err) {
        return { checks: [fail("whoami", `SelfSubjectReview: ${errorText(err)}`, "the API server did not answer in time")], blocks: [7] };
      }
      if (a.status === 404) continue;
      if (a.status === 401 && !a.proxyError) return { checks: [unauthorized(ctx)], blocks: [7] };
      const problem = answerProblem("whoami", a);
      if (problem) return { checks: [problem], blocks: [7] };
      if (a.status === 403) {
        const who = /User "([^"]*)"/.exec(answerText(a))?.[1];
        if (who) ctx.username = who;
        return { checks: [warn("whoami", `authenticated${who ? ` as "${who}"` : ""}, but not allowed to create SelfSubjectReviews: ${answerText(a)}`, "bind the ClusterRole system:basic-user to see your identity")] };
      }
      const info = a.json?.status?.userInfo;
      if (a.status >= 300 || !info) return { checks: [warn("whoami", `SelfSubjectReview answered ${a.status}: ${answerText(a)}`, "check the API server's logs")] };
      ctx.username = String(info.username ?? "");
      const groups: string[] = info.groups ?? [];
      const detail = `user "${ctx.username}"${info.uid ? ` (uid ${info.uid})` : ""}, groups ${groups.join(", ") || "none"}`;
      if (ctx.username === "system:anonymous") return { checks: [warn("whoami", `${detail}: the server treats the requests as anonymous`, "add credentials to the kubeconfig user")] };
      return { checks: [pass("whoami", detail)] };
    }
    return { checks: [warn("whoami", "the server serves no SelfSubjectReview (Kubernetes before 1.27)", "upgrade the cluster, or check identity with kubectl auth can-i --list")] };
  },
};
