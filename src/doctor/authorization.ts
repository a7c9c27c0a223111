// Step 7 proves what the user may do: a SelfSubjectRulesReview for the namespace, and a
// SelfSubjectAccessReview per --can VERB RESOURCE and per default check; a denial carries the Role and RoleBinding that would allow it.
import type { CheckResult } from "../types.js";
import { parseResourceArg } from "../resource-arg.js";
import { answerProblem, answerText } from "./lib/proxy-client.js";
import { errorText, fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const DEFAULT_CAN: Array<[string, string]> = [
  ["get", "pods"],
  ["list", "pods"],
  ["watch", "pods"],
  ["create", "deployments"],
];

/** The API group of well-known resources, so `--can create deployments` needs no `.apps`. */
const GROUPS: Record<string, string> = {
  deployments: "apps", replicasets: "apps", statefulsets: "apps", daemonsets: "apps", controllerrevisions: "apps",
  jobs: "batch", cronjobs: "batch",
  ingresses: "networking.k8s.io", networkpolicies: "networking.k8s.io", ingressclasses: "networking.k8s.io",
  roles: "rbac.authorization.k8s.io", rolebindings: "rbac.authorization.k8s.io", clusterroles: "rbac.authorization.k8s.io", clusterrolebindings: "rbac.authorization.k8s.io",
  horizontalpodautoscalers: "autoscaling", leases: "coordination.k8s.io", storageclasses: "storage.k8s.io",
  customresourcedefinitions: "apiextensions.k8s.io", poddisruptionbudgets: "policy", certificatesigningrequests: "certificates.k8s.io",
};
const CLUSTER_SCOPED = new Set(["nodes", "namespaces", "persistentvolumes", "clusterroles", "clusterrolebindings", "customresourcedefinitions", "storageclasses", "ingressclasses", "certificatesigningrequests", "priorityclasses"]);

export interface Attributes {
  verb: string;
  resource: string;
  subresource: string;
  group: string;
  namespace: string;
}

/** "deployments.apps", "pods/log", "deploy" → resource attributes (the --resource grammar; "*" as RBAC's wildcard). */
export function parseResource(verb: string, text: string, namespace: string): Attributes {
  let resource: string;
  let subresource: string;
  let group: string | undefined;
  if (text.includes("*")) {
    const [head, sub = ""] = text.toLowerCase().split("/", 2);
    const dot = head.indexOf(".");
    [resource, subresource, group] = [dot >= 0 ? head.slice(0, dot) : head, sub, dot >= 0 ? head.slice(dot + 1) : undefined];
  } else {
    const r = parseResourceArg(text, `--can ${verb}`);
    [resource, subresource, group] = [r.resource, r.subresource ?? "", r.group];
  }
  // a review names one group: the built-in resource's own when none was given
  return { verb: verb.toLowerCase(), resource, subresource, group: group ?? GROUPS[resource] ?? "", namespace: CLUSTER_SCOPED.has(resource) ? "" : namespace };
}

/** "deployments.apps", "pods/log": the resource as kubectl's --resource takes it. */
function resourceName(a: Attributes): string {
  return `${a.resource}${a.group ? `.${a.group}` : ""}${a.subresource ? `/${a.subresource}` : ""}`;
}

function describe(a: Attributes): string {
  return `${a.verb} ${resourceName(a)}${a.namespace ? ` in ${a.namespace}` : " (cluster-wide)"}`;
}

/** kubectl commands that create the Role and RoleBinding (or cluster-wide ones) allowing `a` for `user`. */
export function grantCommands(a: Attributes, user: string | undefined): string {
  const res = resourceName(a);
  const name = `${a.verb === "*" ? "all" : a.verb}-${a.resource}${a.subresource ? `-${a.subresource}` : ""}`;
  const sa = user?.match(/^system:serviceaccount:([^:]+):([^:]+)$/);
  const subject = sa ? `--serviceaccount=${sa[1]}:${sa[2]}` : `--user=${user || "USER"}`;
  if (!a.namespace) return `kubectl create clusterrole ${name} --verb=${a.verb} --resource=${res} && kubectl create clusterrolebinding ${name} --clusterrole=${name} ${subject}`;
  return `kubectl create role ${name} --verb=${a.verb} --resource=${res} -n ${a.namespace} && kubectl create rolebinding ${name} --role=${name} ${subject} -n ${a.namespace}`;
}

function summarizeRules(status: any): string {
  const rules: any[] = status?.resourceRules ?? [];
  const shown = rules.slice(0, 6).map((r) => `${(r.verbs ?? []).join(",")} ${(r.resources ?? []).map((x: string) => (r.apiGroups?.[0] && r.apiGroups[0] !== "" ? `${x}.${r.apiGroups[0]}` : x)).join(",")}`);
  return `${rules.length} resource rule${rules.length === 1 ? "" : "s"}, ${(status?.nonResourceRules ?? []).length} non-resource${rules.length ? `: ${shown.join("; ")}${rules.length > 6 ? "; ..." : ""}` : ""}${status?.incomplete ? " (incomplete: another authorizer also decides)" : ""}`;
}

export const authorization: Step = {
  number: 7,
  name: "authorization",
  needsProxy: true,
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const client = ctx.client!;
    const ns = ctx.namespace;
    const checks: CheckResult[] = [];
    try {
      const a = await client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace: ns } });
      const problem = answerProblem("rules", a);
      if (problem) return { checks: [problem] };
      checks.push(a.status < 300 ? pass("rules", `in namespace ${ns}: ${summarizeRules(a.json?.status)}`) : warn("rules", `SelfSubjectRulesReview answered ${a.status}: ${answerText(a)}`, "bind the ClusterRole system:basic-user"));
    } catch (err) {
      return { checks: [fail("rules", `SelfSubjectRulesReview: ${errorText(err)}`, "the API server did not answer in time")] };
    }
    const asked = ctx.opts.can.map(([v, r]) => ({ attrs: parseResource(v, r, ns), explicit: true }));
    const defaults = DEFAULT_CAN.map(([v, r]) => ({ attrs: parseResource(v, r, ns), explicit: false })).filter((d) => !asked.some((x) => describe(x.attrs) === describe(d.attrs)));
    const results = await Promise.all(
      [...asked, ...defaults].map(async ({ attrs, explicit }) => {
        const name = `can ${describe(attrs)}`;
        try {
          const spec = { resourceAttributes: { verb: attrs.verb, group: attrs.group, resource: attrs.resource, subresource: attrs.subresource || undefined, namespace: attrs.namespace || undefined } };
          const a = await client.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec });
          const problem = answerProblem(name, a);
          if (problem) return problem;
          const st = a.json?.status;
          if (a.status >= 300 || !st) return warn(name, `SelfSubjectAccessReview answered ${a.status}: ${answerText(a)}`, "bind the ClusterRole system:basic-user");
          if (st.allowed) return pass(name, `yes${st.reason ? ` (${st.reason})` : ""}`);
          const detail = `no: User "${ctx.username ?? "?"}" cannot ${attrs.verb} resource "${attrs.resource}${attrs.subresource ? `/${attrs.subresource}` : ""}" in API group "${attrs.group}" ${attrs.namespace ? `in the namespace "${attrs.namespace}"` : "at the cluster scope"}${st.reason ? ` (${st.reason})` : ""}${st.evaluationError ? `; evaluation error: ${st.evaluationError}` : ""}${explicit ? "" : " [default check]"}`;
          const fixText = `ask an admin to run: ${grantCommands(attrs, ctx.username)}`;
          return explicit ? fail(name, detail, fixText) : warn(name, detail, fixText);
        } catch (err) {
          return fail(name, `SelfSubjectAccessReview: ${errorText(err)}`, "the API server did not answer in time");
        }
      }),
    );
    checks.push(...results);
    return { checks };
  },
};
