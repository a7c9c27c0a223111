// Who may do what: the demo cluster's built-in RBAC (admins allowed everything, "viewer"
// read-only in "default"), the Roles and bindings stored in it, and kube-apiserver's exact forbidden message.
import type { RequestInfo } from "../types.js";
import type { KObject } from "./kobject.js";

export interface Identity {
  username: string;
  groups: string[];
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  nonResourceURLs?: string[];
}

export interface Binding {
  /** how the RBAC authorizer describes the binding in an allow reason */
  source: string;
  /** "" for a ClusterRoleBinding */
  namespace: string;
  rules: PolicyRule[];
  applies(id: Identity): boolean;
}

const READ = ["get", "list", "watch"];

/** system:discovery, system:basic-user and system:public-info-viewer, bound to every authenticated user */
const BASIC_RULES: PolicyRule[] = [
  { verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"] },
  { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
  { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
];

const BINDINGS: Binding[] = [
  {
    source: 'ClusterRoleBinding "kubeadm:cluster-admins" of ClusterRole "cluster-admin" to Group "kubeadm:cluster-admins"',
    namespace: "",
    rules: [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }, { verbs: ["*"], nonResourceURLs: ["*"] }],
    applies: (id) => id.groups.includes("kubeadm:cluster-admins"),
  },
  {
    source: 'ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    namespace: "",
    rules: BASIC_RULES,
    applies: (id) => id.groups.includes("system:authenticated"),
  },
  {
    source: 'ClusterRoleBinding "viewer-namespaces" of ClusterRole "namespace-reader" to User "viewer"',
    namespace: "",
    rules: [{ verbs: READ, apiGroups: [""], resources: ["namespaces"] }],
    applies: (id) => id.username === "viewer",
  },
  {
    source: 'RoleBinding "viewer/default" of Role "viewer" to User "viewer"',
    namespace: "default",
    rules: [{ verbs: READ, apiGroups: [""], resources: ["pods", "pods/log", "services", "configmaps", "events"] }],
    applies: (id) => id.username === "viewer",
  },
  {
    source: 'RoleBinding "apps/operator" of Role "operator" to ServiceAccount "apps/operator"',
    namespace: "apps",
    rules: [{ verbs: READ, apiGroups: [""], resources: ["pods", "configmaps", "events"] }],
    applies: (id) => id.username === "system:serviceaccount:apps:operator",
  },
];

export interface Decision {
  allowed: boolean;
  reason: string;
}

function matches(list: string[] | undefined, value: string): boolean {
  return (list ?? []).some((x) => x === "*" || x === value);
}

function pathMatches(list: string[] | undefined, path: string): boolean {
  return (list ?? []).some((x) => x === "*" || x === path || (x.endsWith("*") && path.startsWith(x.slice(0, -1))));
}

function ruleAllows(rule: PolicyRule, info: RequestInfo, path: string): boolean {
  if (!matches(rule.verbs, info.verb)) return false;
  if (!info.isResourceRequest) return pathMatches(rule.nonResourceURLs, path);
  if (!rule.resources) return false;
  const res = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  return matches(rule.apiGroups, info.apiGroup) && matches(rule.resources, res);
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** What the RBAC objects stored in the cluster grant (RoleBindings and ClusterRoleBindings with their roleRefs), as kube-apiserver's RBAC authorizer reads them. */
export function storedBindings(objects: { list(key: string, namespace: string): KObject[] }): Binding[] {
  const key = (resource: string) => `rbac.authorization.k8s.io/${resource}`;
  const rulesOf = (kind: string, name: string, namespace: string): PolicyRule[] => {
    const role = objects.list(key(kind === "ClusterRole" ? "clusterroles" : "roles"), kind === "ClusterRole" ? "" : namespace).find((o) => o.metadata.name === name);
    return (role?.rules as PolicyRule[] | undefined) ?? [];
  };
  const subjectMatches = (s: Subject, id: Identity) =>
    (s.kind === "User" && s.name === id.username) ||
    (s.kind === "Group" && id.groups.includes(s.name ?? "")) ||
    (s.kind === "ServiceAccount" && id.username === `system:serviceaccount:${s.namespace}:${s.name}`);
  const bindings = (resource: string, clusterWide: boolean): Binding[] =>
    objects.list(key(resource), "").map((b) => {
      const ref = (b.roleRef ?? {}) as { kind?: string; name?: string };
      const subjects = (b.subjects as Subject[] | undefined) ?? [];
      const namespace = clusterWide ? "" : (b.metadata.namespace ?? "");
      return {
        source: `${clusterWide ? "ClusterRoleBinding" : "RoleBinding"} ${JSON.stringify(clusterWide ? b.metadata.name : `${namespace}/${b.metadata.name}`)} of ${ref.kind} ${JSON.stringify(ref.name)} to ${subjects.map((s) => `${s.kind} ${JSON.stringify(s.kind === "ServiceAccount" ? `${s.namespace}/${s.name}` : s.name)}`).join(", ")}`,
        namespace,
        rules: rulesOf(ref.kind ?? "", ref.name ?? "", namespace),
        applies: (id: Identity) => subjects.some((s) => subjectMatches(s, id)),
      };
    });
  return [...bindings("clusterrolebindings", true), ...bindings("rolebindings", false)];
}

/** The union authorizer: system:masters first (no reason), then RBAC (the built-in bindings, then those stored in the cluster). */
export function authorize(id: Identity, info: RequestInfo, path: string, stored: Binding[] = []): Decision {
  if (id.groups.includes("system:masters")) return { allowed: true, reason: "" };
  for (const b of [...BINDINGS, ...stored]) {
    if (!b.applies(id)) continue;
    if (b.namespace && (!info.isResourceRequest || b.namespace !== info.namespace)) continue;
    if (b.rules.some((rule) => ruleAllows(rule, info, path))) return { allowed: true, reason: `RBAC: allowed by ${b.source}` };
  }
  return { allowed: false, reason: "" };
}

/** The rules that apply to a user in a namespace, for SelfSubjectRulesReview. */
export function rulesFor(id: Identity, namespace: string): { resourceRules: PolicyRule[]; nonResourceRules: PolicyRule[] } {
  const all: PolicyRule[] = id.groups.includes("system:masters")
    ? [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }, { verbs: ["*"], nonResourceURLs: ["*"] }]
    : BINDINGS.filter((b) => b.applies(id) && (!b.namespace || b.namespace === namespace)).flatMap((b) => b.rules);
  return {
    resourceRules: all.filter((r) => r.resources).map((r) => ({ verbs: r.verbs, apiGroups: r.apiGroups, resources: r.resources })),
    nonResourceRules: all.filter((r) => r.nonResourceURLs).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs })),
  };
}

/** responsewriters.forbiddenMessage: the sentence after "<resource> is forbidden: ". */
export function forbiddenMessage(id: Identity, info: RequestInfo, path: string): string {
  const user = JSON.stringify(id.username);
  if (!info.isResourceRequest) return `User ${user} cannot ${info.verb} path ${JSON.stringify(path)}`;
  const res = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  if (info.namespace) {
    return `User ${user} cannot ${info.verb} resource ${JSON.stringify(res)} in API group ${JSON.stringify(info.apiGroup)} in the namespace ${JSON.stringify(info.namespace)}`;
  }
  return `User ${user} cannot ${info.verb} resource ${JSON.stringify(res)} in API group ${JSON.stringify(info.apiGroup)} at the cluster scope`;
}
