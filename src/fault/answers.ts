// What an injected status looks like on the wire: kube-apiserver's own bodies and headers for
// 401, 403, 410, 429 (Priority and Fairness), 500, 503 and 504, and the in-stream ERROR event of a watch.
import type { Exchange } from "../types.js";
import type { FaultAction } from "./rules.js";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = "application/json";

function status(code: number, reason: string, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code });
}

/** kube-apiserver's words for a denial: `pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default"`. */
function forbidden(ex: Exchange): string {
  const { info } = ex;
  const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  const user = ex.kubeUser || "system:anonymous";
  if (!info.isResourceRequest) return `forbidden: User "${user}" cannot ${info.verb} path "${ex.request.path}"`;
  const what = info.name ? `${info.resource} "${info.name}"` : info.resource;
  const where = info.namespace ? ` in the namespace "${info.namespace}"` : "";
  return `${what} is forbidden: User "${user}" cannot ${info.verb} resource "${resource}" in API group "${info.apiGroup}"${info.namespace ? where : " at the cluster scope"}`;
}

/** The Status of a resourceVersion too old to watch from (also the object of an in-stream ERROR event). */
export function expiredStatus(message?: string): string {
  return status(410, "Expired", message ?? "too old resource version: 1 (2)");
}

/** The answer kube-apiserver would give with this status for this request. */
export function answerFor(action: FaultAction, ex: Exchange): Answer {
  const code = action.status!;
  const retryAfter: Record<string, string> = action.retryAfter !== undefined ? { "retry-after": String(action.retryAfter) } : {};
  switch (code) {
    case 429:
      // API Priority and Fairness rejects with plain text, Retry-After and the flow schema's headers
      return {
        status: 429,
        headers: {
          "content-type": "text/plain; charset=utf-8",
          "retry-after": String(action.retryAfter ?? 1),
          "x-kubernetes-pf-flowschema-uid": "kubewire-fault",
          "x-kubernetes-pf-prioritylevel-uid": "kubewire-fault",
        },
        body: `${action.message ?? "Too many requests, please try again later."}\n`,
      };
    case 401:
      return { status: 401, headers: { "content-type": JSON_TYPE }, body: status(401, "Unauthorized", action.message ?? "Unauthorized") };
    case 403:
      return { status: 403, headers: { "content-type": JSON_TYPE }, body: status(403, "Forbidden", action.message ?? forbidden(ex), { kind: ex.info.resource }) };
    case 410:
      return { status: 410, headers: { "content-type": JSON_TYPE }, body: expiredStatus(action.message) };
    case 500:
      return { status: 500, headers: { "content-type": JSON_TYPE, ...retryAfter }, body: status(500, "InternalError", `Internal error occurred: ${action.message ?? "kubewire fault"}`, { causes: [{ message: action.message ?? "kubewire fault" }] }) };
    case 503:
      return { status: 503, headers: { "content-type": JSON_TYPE, ...retryAfter }, body: status(503, "ServiceUnavailable", action.message ?? "The server is currently unable to handle the request") };
    case 504:
      return { status: 504, headers: { "content-type": JSON_TYPE, ...retryAfter }, body: status(504, "Timeout", action.message ?? "Timeout: request did not complete within requested timeout - context deadline exceeded") };
    default:
      throw new Error(`no answer for status ${code}`); // rules.ts only lets the statuses above through
  }
}

/** The last event of a watch that kubewire ends with an error, one JSON line as kube-apiserver writes it. */
export function errorEvent(code: number, message?: string): string {
  const object = code === 410 ? JSON.parse(expiredStatus(message)) : JSON.parse(status(500, "InternalError", `Internal error occurred: ${message ?? "kubewire fault"}`));
  return `${JSON.stringify({ type: "ERROR", object })}\n`;
}
