// Fixed facts the doctor checks against, kept apart so the CLI can use them without
// loading the checks: the verbs RBAC knows and where a Pod's service account lives.
export const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "bind", "escalate", "use", "approve", "sign", "proxy", "*"];

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
