// What a replay may send and how: refuses state changes without --allow-mutations, bodies that
// were truncated or redacted, and requests never recorded; strips credentials; bounds watches.
import { REDACTED } from "../proxy/redact.js";
import type { Exchange, Headers } from "../types.js";
import { HOP_BY_HOP, REPLAY_HEADER } from "../proxy/headers.js";

export type ReplayMode = "plain" | "watch" | "stream" | "upgrade";

export interface SendPlan {
  kind: "send";
  mode: ReplayMode;
  method: string;
  path: string;
  query: string;
  /** what is sent besides the proxy token and the replay marker */
  headers: Headers;
  body: Buffer | null;
  /** what differs from the recorded request, for --dry-run */
  changes: string[];
}

export interface Refusal {
  kind: "refuse";
  reason: string;
}

export interface PolicyOptions {
  allowMutations: boolean;
  watchSeconds: number;
  /** Impersonate-User */
  as?: string;
  /** Impersonate-Group */
  asGroups: string[];
}

/** Methods that only read; anything else changes state, and so does an upgrade (exec, attach, port-forward). */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const UPGRADE_SUBRESOURCES = new Set(["exec", "attach", "portforward"]);
/** never copied from the recording: hop-by-hop headers and credentials, the replay mark, and what Node sets itself */
const DROPPED = new Set([...HOP_BY_HOP, "cookie", "x-kubewire-token", REPLAY_HEADER, "content-length", "transfer-encoding"]);
const UPGRADE_KEPT = new Set(["connection", "upgrade"]);

function isUpgrade(ex: Exchange): boolean {
  return ex.stream?.kind === "upgrade" || ex.request.headers.upgrade !== undefined || UPGRADE_SUBRESOURCES.has(ex.info.subresource);
}

function modeOf(ex: Exchange): ReplayMode {
  if (isUpgrade(ex)) return "upgrade";
  if (ex.info.verb === "watch") return "watch";
  if (ex.stream || /(^|&)follow=(true|1)(&|$)/.test(ex.request.query)) return "stream";
  return "plain";
}

/** Why replaying this request could change the cluster, or null for a read. */
export function mutationReason(ex: Exchange): string | null {
  const what = ex.info.isResourceRequest ? ex.info.verb : ex.request.method;
  if (isUpgrade(ex)) return `${ex.info.subresource || "upgrade"} opens a session in the cluster (it may run commands or forward ports)`;
  if (!READ_METHODS.has(ex.request.method.toUpperCase())) return `${what} changes state in the cluster`;
  return null;
}

function hasRedaction(value: string | string[]): boolean {
  return (Array.isArray(value) ? value : [value]).some((v) => v.includes(REDACTED));
}

/** The recorded headers minus credentials and hop-by-hop headers; impersonation replaced when asked. */
function replayHeaders(ex: Exchange, mode: ReplayMode, o: PolicyOptions, changes: string[]): Headers {
  const out: Headers = {};
  const replaceIdentity = o.as !== undefined;
  for (const [name, value] of Object.entries(ex.request.headers)) {
    const n = name.toLowerCase();
    if (DROPPED.has(n) && !(mode === "upgrade" && UPGRADE_KEPT.has(n))) continue;
    if (replaceIdentity && n.startsWith("impersonate-")) continue;
    if (hasRedaction(value)) {
      changes.push(`dropped redacted header ${n}`);
      continue;
    }
    out[n] = value;
  }
  if (o.as !== undefined) {
    out["impersonate-user"] = o.as;
    if (o.asGroups.length > 0) out["impersonate-group"] = o.asGroups;
    changes.push(`impersonating ${o.as}${o.asGroups.length ? ` (groups ${o.asGroups.join(", ")})` : ""}`);
  }
  return out;
}

/** A watch is replayed short: from now (no old resourceVersion), ended by the server after watchSeconds. */
function boundedWatchQuery(query: string, seconds: number, changes: string[]): string {
  const params = new URLSearchParams(query);
  if (params.has("resourceVersion")) changes.push(`dropped resourceVersion=${params.get("resourceVersion")} (watch from now)`);
  params.delete("resourceVersion");
  params.delete("resourceVersionMatch");
  params.set("timeoutSeconds", String(seconds));
  changes.push(`bounded watch: timeoutSeconds=${seconds}`);
  return params.toString();
}

/** Decides whether and how one recorded exchange is replayed. */
export function planReplay(ex: Exchange, o: PolicyOptions): SendPlan | Refusal {
  const refuse = (reason: string): Refusal => ({ kind: "refuse", reason });
  if (!ex.request.method) return refuse("no request was recorded (the client failed before sending one)");
  const mutation = mutationReason(ex);
  if (mutation && !o.allowMutations) return refuse(`${mutation}; add --allow-mutations to replay it`);
  if (ex.request.query.includes(REDACTED)) return refuse("its recorded query string had a credential redacted, so it cannot be sent as it was");
  const body = ex.request.body;
  if (body?.truncated) return refuse(`its body was truncated at capture (${ex.request.bytes} bytes on the wire), so it cannot be sent as it was`);
  if (!body && ex.request.bytes > 0) return refuse("its body was not captured, so it cannot be sent as it was");
  if (body && (body.encoding === "utf8" ? body.data.includes(REDACTED) : Buffer.from(body.data, "base64").includes(REDACTED))) {
    return refuse("its recorded body had secret values redacted, so it cannot be sent as it was");
  }
  const bytes = body ? Buffer.from(body.data, body.encoding) : null;
  if (bytes && bytes.length !== body!.size) return refuse(`its recorded body (${bytes.length} bytes) does not match the ${body!.size} bytes sent`);
  const mode = modeOf(ex);
  const changes: string[] = [];
  const headers = replayHeaders(ex, mode, o, changes);
  const query = mode === "watch" ? boundedWatchQuery(ex.request.query, o.watchSeconds, changes) : ex.request.query;
  if (mode === "stream") changes.push(`stream cut after ${o.watchSeconds}s`);
  if (mode === "upgrade") changes.push("upgrade closed as soon as it is answered");
  return { kind: "send", mode, method: ex.request.method, path: ex.request.path, query, headers, body: bytes, changes };
}
