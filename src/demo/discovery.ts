// The API resources the demo cluster serves and the legacy discovery documents
// (/api, /apis, APIResourceList per group-version) that describe them.

export interface ResourceDef {
  group: string;
  version: string;
  /** plural name, e.g. "pods"; subresources as "pods/log" */
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  /** kind group/version when it differs (e.g. pods/exec answers PodExecOptions) */
  subKind?: { group?: string; version?: string };
  /** stored in the in-memory store (false for review-style and subresources) */
  stored: boolean;
  /** the deprecation warning kube-apiserver sends with every request to it (apimachinery's WarningMessage wording) */
  deprecated?: string;
}

const ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NS = ["create", "delete", "get", "list", "patch", "update", "watch"];

function r(group: string, version: string, name: string, kind: string, namespaced: boolean, verbs: string[], extra: Partial<ResourceDef> = {}): ResourceDef {
  const base = name.split("/")[0];
  return {
    group,
    version,
    name,
    singularName: name.includes("/") ? "" : base.replace(/ies$/, "y").replace(/(ss)es$/, "$1").replace(/s$/, ""),
    namespaced,
    kind,
    verbs,
    stored: !name.includes("/") && !name.endsWith("reviews"),
    ...extra,
  };
}

/** Every resource, in the order discovery lists them. */
export const RESOURCES: ResourceDef[] = [
  r("", "v1", "componentstatuses", "ComponentStatus", false, ["get", "list"], { shortNames: ["cs"], deprecated: "v1 ComponentStatus is deprecated in v1.19+" }),
  r("", "v1", "configmaps", "ConfigMap", true, ALL, { shortNames: ["cm"] }),
  r("", "v1", "events", "Event", true, ALL, { shortNames: ["ev"] }),
  r("", "v1", "namespaces", "Namespace", false, NS, { shortNames: ["ns"] }),
  r("", "v1", "namespaces/status", "Namespace", false, ["get", "patch", "update"]),
  r("", "v1", "nodes", "Node", false, ALL, { shortNames: ["no"] }),
  r("", "v1", "nodes/status", "Node", false, ["get", "patch", "update"]),
  r("", "v1", "pods", "Pod", true, ALL, { shortNames: ["po"], categories: ["all"] }),
  r("", "v1", "pods/attach", "PodAttachOptions", true, ["create", "get"]),
  r("", "v1", "pods/exec", "PodExecOptions", true, ["create", "get"]),
  r("", "v1", "pods/log", "Pod", true, ["get"]),
  r("", "v1", "pods/status", "Pod", true, ["get", "patch", "update"]),
  r("", "v1", "secrets", "Secret", true, ALL),
  r("", "v1", "serviceaccounts", "ServiceAccount", true, ALL, { shortNames: ["sa"] }),
  r("", "v1", "serviceaccounts/token", "TokenRequest", true, ["create"], { subKind: { group: "authentication.k8s.io", version: "v1" } }),
  r("", "v1", "services", "Service", true, ALL, { shortNames: ["svc"], categories: ["all"] }),
  r("", "v1", "services/status", "Service", true, ["get", "patch", "update"]),
  r("apps", "v1", "deployments", "Deployment", true, ALL, { shortNames: ["deploy"], categories: ["all"] }),
  r("apps", "v1", "deployments/scale", "Scale", true, ["get", "patch", "update"], { subKind: { group: "autoscaling", version: "v1" } }),
  r("apps", "v1", "deployments/status", "Deployment", true, ["get", "patch", "update"]),
  // the other workload kinds, so `kubectl apply --dry-run=client` maps `kubewire inject` output
  r("apps", "v1", "daemonsets", "DaemonSet", true, ALL, { shortNames: ["ds"] }),
  r("apps", "v1", "replicasets", "ReplicaSet", true, ALL, { shortNames: ["rs"] }),
  r("apps", "v1", "statefulsets", "StatefulSet", true, ALL, { shortNames: ["sts"] }),
  r("batch", "v1", "cronjobs", "CronJob", true, ALL, { shortNames: ["cj"] }),
  r("batch", "v1", "jobs", "Job", true, ALL),
  r("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", false, ["create"]),
  r("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", false, ["create"]),
  r("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", true, ["create"]),
  r("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", false, ["create"]),
  r("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", false, ["create"]),
  r("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", false, ["create"]),
  // RBAC objects, stored and honoured by the authorizer (rbac.ts), so the Role that `kubewire flags` suggests applies
  r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false, ALL),
  r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false, ALL),
  r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true, ALL),
  r("rbac.authorization.k8s.io", "v1", "roles", "Role", true, ALL),
  // a custom resource whose objects embed whole Secrets (as packaging and secret-sync operators' CRs do)
  r("demo.kubewire.dev", "v1", "bundles", "Bundle", true, ALL),
];

export const GROUPS = ["apps", "authentication.k8s.io", "authorization.k8s.io", "batch", "rbac.authorization.k8s.io", "demo.kubewire.dev"];

export function findResource(group: string, version: string, name: string): ResourceDef | undefined {
  return RESOURCES.find((d) => d.group === group && d.version === version && d.name === name);
}

export function servesGroupVersion(group: string, version: string): boolean {
  return RESOURCES.some((d) => d.group === group && d.version === version);
}

export function apiVersions(serverAddress: string): object {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

function groupDoc(name: string): object {
  const gv = { groupVersion: `${name}/v1`, version: "v1" };
  return { name, versions: [gv], preferredVersion: gv };
}

export function apiGroupList(): object {
  return { kind: "APIGroupList", apiVersion: "v1", groups: GROUPS.map(groupDoc) };
}

export function apiGroup(name: string): object | undefined {
  return GROUPS.includes(name) ? { kind: "APIGroup", apiVersion: "v1", ...groupDoc(name) } : undefined;
}

export function apiResourceList(group: string, version: string): object {
  const resources = RESOURCES.filter((d) => d.group === group && d.version === version).map((d) => {
    const out: Record<string, unknown> = { name: d.name, singularName: d.singularName, namespaced: d.namespaced };
    if (d.subKind?.group) out.group = d.subKind.group;
    if (d.subKind?.version) out.version = d.subKind.version;
    out.kind = d.kind;
    out.verbs = d.verbs;
    if (d.shortNames) out.shortNames = d.shortNames;
    if (d.categories) out.categories = d.categories;
    return out;
  });
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/${version}` : version, resources };
}
