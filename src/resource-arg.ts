// The one --resource grammar, as kubectl writes a resource: RESOURCE[.GROUP][/SUBRESOURCE], or
// RESOURCE.VERSION.GROUP (kubectl's fully qualified form). Used by every filter of recorded
// exchanges (ls, flags, stats, tail, export, replay, retries), doctor --can, the web view's API and fault rules.
//
//   pods                      pods of any API group          deployments.apps     deployments of group apps
//   pods/log                  the log subresource of pods    deployments.apps/scale
//   deployments.v1.apps       group apps, version v1         deploy, po, svc ...  built-in short names
//
// kubectl learns short and singular names from the server's discovery; kubewire filters recordings
// without a server, so it knows those of the built-in resources (the table below) and no others:
// a CRD's short name has to be written out (widgets.example.com).
import { UserError } from "./errors.js";

export interface ResourceArg {
  resource: string;
  /** absent: any group ("" is the core group) */
  group?: string;
  version?: string;
  subresource?: string;
}

export const RESOURCE_HELP = "RESOURCE[.GROUP][/SUBRESOURCE], as kubectl: pods, deployments.apps, pods/log, deploy";

/** Built-in resources' singular and short names (kubectl's discovery answers these for every cluster). */
const BUILT_IN = `
pods pod po; services service svc; configmaps configmap cm; secrets secret; namespaces namespace ns;
nodes node no; persistentvolumes persistentvolume pv; persistentvolumeclaims persistentvolumeclaim pvc;
serviceaccounts serviceaccount sa; endpoints endpoints ep; events event ev; replicationcontrollers replicationcontroller rc;
resourcequotas resourcequota quota; limitranges limitrange limits; podtemplates podtemplate;
deployments deployment deploy; replicasets replicaset rs; statefulsets statefulset sts; daemonsets daemonset ds;
controllerrevisions controllerrevision; jobs job; cronjobs cronjob cj; horizontalpodautoscalers horizontalpodautoscaler hpa;
ingresses ingress ing; ingressclasses ingressclass; networkpolicies networkpolicy netpol; poddisruptionbudgets poddisruptionbudget pdb;
roles role; rolebindings rolebinding; clusterroles clusterrole; clusterrolebindings clusterrolebinding;
storageclasses storageclass sc; volumeattachments volumeattachment; csidrivers csidriver; csinodes csinode;
customresourcedefinitions customresourcedefinition crd crds; certificatesigningrequests certificatesigningrequest csr;
priorityclasses priorityclass pc; leases lease; apiservices apiservice; endpointslices endpointslice;
mutatingwebhookconfigurations mutatingwebhookconfiguration; validatingwebhookconfigurations validatingwebhookconfiguration;
tokenreviews tokenreview; subjectaccessreviews subjectaccessreview; selfsubjectaccessreviews selfsubjectaccessreview;
selfsubjectreviews selfsubjectreview; componentstatuses componentstatus cs; runtimeclasses runtimeclass; bindings binding`;

const PLURAL = new Map<string, string>();
const KNOWN = new Set<string>();
for (const entry of BUILT_IN.split(";")) {
  const [plural, ...others] = entry.trim().split(/\s+/);
  KNOWN.add(plural);
  for (const name of others) PLURAL.set(name, plural);
}

/** API groups without a dot are exactly these built-in ones; every other group has a dot. */
const DOTLESS_GROUPS = ["apps", "autoscaling", "batch", "extensions", "policy"];
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VERSION = /^v\d+((alpha|beta)\d+)?$/;

/** A resource as the user wrote it; `what` names the flag or field in the error (one line, with the fix). */
export function parseResourceArg(text: string, what = "--resource"): ResourceArg {
  const arg = text.trim().toLowerCase();
  const bad = (why: string): never => {
    throw new UserError(`${what} ${JSON.stringify(text)}: ${why}`);
  };
  const slash = arg.split("/");
  if (slash.length > 2) bad(`expected ${RESOURCE_HELP.replace(", as kubectl:", " (as kubectl:")})`);
  const [qualified, subresource] = slash;
  const dots = qualified.split(".");
  // the old API-path order, group/resource, said the kubectl way
  if (subresource !== undefined && (DOTLESS_GROUPS.includes(qualified) || (dots.length > 1 && KNOWN.has(subresource)))) {
    bad(`the group follows the resource after a dot, as kubectl writes it: ${subresource}.${qualified}`);
  }
  const out: ResourceArg = { resource: dots[0] };
  if (dots.length >= 3 && VERSION.test(dots[1])) {
    out.version = dots[1];
    out.group = dots.slice(2).join(".");
  } else if (dots.length >= 2) {
    out.group = dots.slice(1).join(".");
  }
  if (!NAME.test(out.resource)) bad(`"${out.resource}" is not a resource name (lower-case letters, digits and "-"); expected ${RESOURCE_HELP}`);
  if (out.group !== undefined && !GROUP.test(out.group)) bad(`"${out.group}" is not an API group name`);
  if (subresource !== undefined) {
    if (!NAME.test(subresource)) bad(`"${subresource}" is not a subresource name (such as log, status, scale, exec)`);
    out.subresource = subresource;
  }
  const builtInGroup = out.group === undefined || DOTLESS_GROUPS.includes(out.group) || out.group.endsWith(".k8s.io");
  if (builtInGroup) out.resource = PLURAL.get(out.resource) ?? out.resource;
  return out;
}
