// metav1.Status objects exactly as k8s.io/apimachinery/pkg/api/errors builds them
// (NewNotFound, NewForbidden, NewUnauthorized, ...), plus the resource-name helper they use.

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** GroupResource.String(): "pods" or "deployments.apps". */
export function qualified(group: string, resource: string): string {
  return group ? `${resource}.${group}` : resource;
}

function details(group: string, resource: string, name: string): StatusDetails {
  // Field order follows metav1.StatusDetails (name, group, kind), empty fields omitted.
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (group) d.group = group;
  if (resource) d.kind = resource;
  return d;
}

export function failure(code: number, reason: string, message: string, det?: StatusDetails): Status {
  // Key order as the apiserver serializes metav1.Status: ..., reason, details, code.
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(det ? { details: det } : {}), code };
}

export const unauthorized = (): Status => failure(401, "Unauthorized", "Unauthorized");

export function forbidden(group: string, resource: string, name: string, reason: string): Status {
  const q = qualified(group, resource);
  const message = !resource ? `forbidden: ${reason}` : name ? `${q} "${name}" is forbidden: ${reason}` : `${q} is forbidden: ${reason}`;
  return failure(403, "Forbidden", message, details(group, resource, name));
}

export function notFound(group: string, resource: string, name: string): Status {
  return failure(404, "NotFound", `${qualified(group, resource)} "${name}" not found`, details(group, resource, name));
}

/** The 404 for a path the server does not serve at all. */
export const pathNotFound = (): Status => failure(404, "NotFound", "the server could not find the requested resource", {});

export function alreadyExists(group: string, resource: string, name: string): Status {
  return failure(409, "AlreadyExists", `${qualified(group, resource)} "${name}" already exists`, details(group, resource, name));
}

export function conflict(group: string, resource: string, name: string): Status {
  const msg = `Operation cannot be fulfilled on ${qualified(group, resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  return failure(409, "Conflict", msg, details(group, resource, name));
}

export function badRequest(message: string): Status {
  return failure(400, "BadRequest", message);
}

export function invalid(kind: string, name: string, group: string, causes: { field: string; message: string }[]): Status {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const q = group ? `${kind}.${group}` : kind;
  const message = `${q} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(", ")}]`}`;
  const det: StatusDetails = { name, ...(group ? { group } : {}), kind, causes: causes.map((c) => ({ reason: "FieldValueInvalid", message: c.message, field: c.field })) };
  return failure(422, "Invalid", message, det);
}

export function methodNotSupported(group: string, resource: string, action: string): Status {
  return failure(405, "MethodNotAllowed", `${action} is not supported on resources of kind "${qualified(group, resource)}"`, details(group, resource, ""));
}

export function internalError(cause: string): Status {
  return failure(500, "InternalError", `Internal error occurred: ${cause}`, { causes: [{ message: cause }] });
}

export function notAcceptable(accepted: string[]): Status {
  return failure(406, "NotAcceptable", `only the following media types are accepted: ${accepted.join(", ")}`);
}

export function unsupportedMediaType(accepted: string[]): Status {
  const message = `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`;
  return failure(415, "UnsupportedMediaType", message);
}

export function gone(message: string): Status {
  return failure(410, "Expired", message);
}
