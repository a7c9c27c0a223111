// Step 5 proves the API server is healthy, asked through the recording proxy: /livez,
// /readyz?verbose (naming any failing check) and /version.
import type { CheckResult } from "../types.js";
import { answerProblem, answerText, type ProxyAnswer } from "./lib/proxy-client.js";
import { errorText, fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

async function ask(ctx: DoctorContext, name: string, path: string, judge: (a: ProxyAnswer) => CheckResult): Promise<CheckResult> {
  try {
    const a = await ctx.client!.request("GET", path);
    return answerProblem(name, a) ?? judge(a);
  } catch (err) {
    return fail(name, `GET ${path}: ${errorText(err)}`, "the API server did not answer in time: check its load and the network");
  }
}

export const apiHealth: Step = {
  number: 5,
  name: "API server health",
  needsProxy: true,
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const [livez, readyz, version] = await Promise.all([
      ask(ctx, "livez", "/livez", (a) => (a.status === 200 ? pass("livez", `200 ${a.text.trim().slice(0, 40)}`) : fail("livez", `${a.status}: ${answerText(a)}`, "the API server reports itself not live: check its logs (kubectl -n kube-system logs kube-apiserver-...)"))),
      ask(ctx, "readyz", "/readyz?verbose", (a) => {
        const lines = a.text.split("\n");
        const failed = lines.filter((l) => l.startsWith("[-]")).map((l) => l.slice(3).trim());
        const ok = lines.filter((l) => l.startsWith("[+]")).length;
        if (a.status === 200 && failed.length === 0) return pass("readyz", `ready: ${ok} checks ok`);
        if (a.status === 403) return warn("readyz", `403: ${answerText(a)}`, "allow get on the /readyz non-resource URL (ClusterRole system:public-info-viewer)");
        return fail("readyz", `not ready (${a.status}): ${failed.length ? `failing ${failed.join("; ")}` : answerText(a)}`, "the API server is not ready: look at the failing checks (etcd, informers) in its logs");
      }),
      ask(ctx, "version", "/version", (a) => {
        const v = a.json;
        if (a.status === 200 && v?.gitVersion) return pass("version", `${v.gitVersion} (${v.platform ?? "?"}, built ${v.buildDate ?? "?"})`);
        return warn("version", `${a.status}: ${answerText(a)}`, "the server did not say its version: is it a Kubernetes API server?");
      }),
    ]);
    // a 401 on every path is one finding, told in step 6: say it once
    const unauthorized = [livez, readyz, version].every((c) => c.detail.startsWith("401 Unauthorized"));
    const checks = unauthorized ? [{ ...livez, name: "health", detail: "401 Unauthorized on /livez, /readyz and /version: the server rejected the credentials before answering (see step 6)" }] : [livez, readyz, version];
    const unreachable = checks.some((c) => c.status === "fail" && c.detail.startsWith("kubewire could not reach"));
    return { checks, blocks: unreachable ? [6, 7] : undefined };
  },
};
