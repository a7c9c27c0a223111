// Reads kube-apiserver's RBAC denial sentence into its parts and writes the least-privilege
// Role/ClusterRole and binding that would allow exactly that, plus the can-i line that checks it.
import type { Exchange } from "../../types.js";

export interface Denial {
  user: string;
  verb: string;
  /** "" for a non-resource URL */
  resource: string;
  subresource: string;
  group: string;
  /** "" at the cluster scope */
  namespace: string;
  /** non-resource URL, when that is what was denied */
  path: string;
  /** object name when the request named one */
  name: string;
}

const RESOURCE_RE = /User "((?:[^"\\]|\\.)*)" cannot (\S+) resource "([^"]*)" in API group "([^"]*)" (?:in the namespace "([^"]*)"|at the cluster scope)/;
const PATH_RE = /User "((?:[^"\\]|\\.)*)" cannot (\S+) path "([^"]*)"/;

/** The denial in a 403, from the Status message when it has the RBAC sentence, else from the request itself. */
export function parseDenial(message: string, ex: Exchange): Denial {
  const r = RESOURCE_RE.exec(message);
  if (r) {
    const [resource, subresource = ""] = r[3].split("/");
    return { user: r[1], verb: r[2], resource, subresource, group: r[4], namespace: r[5] ?? "", path: "", name: ex.info.name };
  }
  const p = PATH_RE.exec(message);
  if (p) return { user: p[1], verb: p[2], resource: "", subresource: "", group: "", namespace: "", path: p[3], name: "" };
  const i = ex.info;
  return {
    user: ex.kubeUser ? `(kubeconfig user ${ex.kubeUser})` : "(unknown user)",
    verb: i.verb,
    resource: i.isResourceRequest ? i.resource : "",
    subresource: i.subresource,
    group: i.apiGroup,
    namespace: i.namespace,
    path: i.isResourceRequest ? "" : ex.request.path,
    name: i.name,
  };
}

export function denialText(d: Denial): string {
  if (!d.resource) return `User "${d.user}" cannot ${d.verb} path "${d.path}"`;
  const res = d.subresource ? `${d.resource}/${d.subresource}` : d.resource;
  const scope = d.namespace ? `in the namespace "${d.namespace}"` : "at the cluster scope";
  return `User "${d.user}" cannot ${d.verb} resource "${res}" in API group "${d.group}" ${scope}`;
}

/** Denials that one Role rule covers: same user, scope, group and resource (verbs and names merged). */
export interface Grant {
  user: string;
  namespace: string;
  group: string;
  /** "pods" or "pods/log"; "" for non-resource URLs */
  resource: string;
  path: string;
  verbs: string[];
  /** only when every denial in the grant named its object */
  resourceNames: string[];
}

export function grantsFor(denials: Denial[]): Grant[] {
  const byKey = new Map<string, { grant: Grant; named: boolean; names: Set<string> }>();
  for (const d of denials) {
    const resource = d.resource ? (d.subresource ? `${d.resource}/${d.subresource}` : d.resource) : "";
    const key = JSON.stringify([d.user, d.namespace, d.group, resource, d.path]);
    let entry = byKey.get(key);
    if (!entry) {
      entry = { grant: { user: d.user, namespace: d.namespace, group: d.group, resource, path: d.path, verbs: [], resourceNames: [] }, named: true, names: new Set() };
      byKey.set(key, entry);
    }
    if (!entry.grant.verbs.includes(d.verb)) entry.grant.verbs.push(d.verb);
    // list, watch and create cannot be limited by name
    if (d.name && !["list", "watch", "create", "deletecollection"].includes(d.verb)) entry.names.add(d.name);
    else entry.named = false;
  }
  return [...byKey.values()].map(({ grant, named, names }) => ({ ...grant, resourceNames: named ? [...names] : [] }));
}

function subject(user: string): string[] {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  if (sa) return ["- kind: ServiceAccount", `  name: ${q(sa[2])}`, `  namespace: ${q(sa[1])}`];
  return ["- kind: User", "  apiGroup: rbac.authorization.k8s.io", `  name: ${q(user)}`];
}

/** A YAML scalar, quoted when plain style would change its meaning. */
function q(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[0-9.]+$/.test(s) ? s : JSON.stringify(s);
}

function list(values: string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
}

function roleName(g: Grant): string {
  const who = g.user.replace(/^system:serviceaccount:[^:]+:/, "").replace(/[^a-z0-9.-]+/gi, "-").toLowerCase();
  const what = (g.resource || g.path).replace(/[^a-z0-9.-]+/gi, "-").toLowerCase().replace(/^-+|-+$/g, "") || "root";
  const group = g.group ? `.${g.group}` : "";
  return `${who}-${g.verbs.join("-")}-${what}${group}`.replace(/-+/g, "-").slice(0, 253);
}

/** Role + RoleBinding (namespaced), or ClusterRole + ClusterRoleBinding (cluster scope, non-resource URLs). */
export function grantYaml(g: Grant): string {
  const cluster = !g.namespace;
  const role = cluster ? "ClusterRole" : "Role";
  const name = roleName(g);
  const meta = [`  name: ${q(name)}`, ...(cluster ? [] : [`  namespace: ${q(g.namespace)}`])];
  const rule = g.resource
    ? [`- apiGroups: ${list([g.group])}`, `  resources: ${list([g.resource])}`, ...(g.resourceNames.length ? [`  resourceNames: ${list(g.resourceNames)}`] : []), `  verbs: ${list(g.verbs)}`]
    : [`- nonResourceURLs: ${list([g.path])}`, `  verbs: ${list(g.verbs)}`];
  return [
    "apiVersion: rbac.authorization.k8s.io/v1",
    `kind: ${role}`,
    "metadata:",
    ...meta,
    "rules:",
    ...rule,
    "---",
    "apiVersion: rbac.authorization.k8s.io/v1",
    `kind: ${role}Binding`,
    "metadata:",
    ...meta,
    "subjects:",
    ...subject(g.user),
    "roleRef:",
    "  apiGroup: rbac.authorization.k8s.io",
    `  kind: ${role}`,
    `  name: ${q(name)}`,
  ].join("\n");
}

/** `kubectl auth can-i` for each verb of the grant, as the denied user (needs impersonation rights). */
export function canI(g: Grant): string[] {
  return g.verbs.map((verb) => {
    if (!g.resource) return `kubectl auth can-i ${verb} ${g.path} --as ${shellWord(g.user)}`;
    const [res, sub] = g.resource.split("/");
    const target = `${res}${g.group ? `.${g.group}` : ""}${g.resourceNames.length === 1 ? `/${g.resourceNames[0]}` : ""}`;
    const scope = g.namespace ? ` --namespace ${shellWord(g.namespace)}` : "";
    return `kubectl auth can-i ${verb} ${target}${sub ? ` --subresource ${sub}` : ""}${scope} --as ${shellWord(g.user)}`;
  });
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9._:\/@=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
