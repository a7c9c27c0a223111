// Where each replay goes: by default the context (and so the server) each exchange was recorded
// with; with --context, that one context for all, flagged when its server is not the recorded one.
// Identical requests bound for the same context are collapsed into one send.
import { createHash } from "node:crypto";
import { UserError } from "../errors.js";
import { clusterOf, loadKubeconfig } from "../kubeconfig/load.js";
import type { Exchange } from "../types.js";
import type { SendPlan } from "./safety-policy.js";

export interface Target {
  context: string;
  /** origin of the server that context points at now */
  server: string;
}

/** One distinct request: sent once, standing for every recorded exchange in `originals` (oldest first). */
export interface DistinctRequest {
  originals: Exchange[];
  /** flag kinds the store holds for the first original */
  flags: string[];
  plan: SendPlan;
  target: Target;
  /** false when the target server is not the one the first original was recorded against */
  sameServer: boolean;
}

export interface TargetRefusal {
  original: Exchange;
  reason: string;
}

export interface PlannedSend {
  original: Exchange;
  flags: string[];
  plan: SendPlan;
}

/** The server a kubeconfig context points at (URL origin), or a UserError saying why there is none. */
export type ServerOf = (context: string) => string;

export function kubeconfigServers(kubeconfig: string | undefined): ServerOf {
  const cache = new Map<string, string | UserError>();
  return (context) => {
    if (!cache.has(context)) {
      try {
        const loaded = loadKubeconfig({ kubeconfig, context });
        cache.set(context, originOf(String(clusterOf(loaded).server ?? "")));
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        cache.set(context, err);
      }
    }
    const v = cache.get(context)!;
    if (v instanceof UserError) throw v;
    return v;
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** Headers that differ between otherwise identical requests of one program (per-invocation ids). */
const VOLATILE = new Set(["kubectl-session", "x-request-id", "traceparent", "tracestate", "audit-id"]);

function requestKey(target: string, plan: SendPlan): string {
  const headers = Object.entries(plan.headers)
    .filter(([k]) => !VOLATILE.has(k.toLowerCase()))
    .map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join("\n") : v])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = plan.body ? createHash("sha256").update(plan.body).digest("hex") : "";
  return JSON.stringify([target, plan.mode, plan.method, plan.path, plan.query, headers, body]);
}

/**
 * Assigns each planned send its target and collapses identical ones. Without `explicitContext`, an
 * exchange goes to the context it was recorded with, and is refused when that context is missing
 * or now points at another server. With it, everything goes there; `sameServer` tells the caller.
 */
export function assignTargets(
  planned: PlannedSend[],
  explicitContext: string | undefined,
  serverOf: ServerOf,
): { distinct: DistinctRequest[]; refused: TargetRefusal[] } {
  const refused: TargetRefusal[] = [];
  const byKey = new Map<string, DistinctRequest>();
  for (const p of planned) {
    const ex = p.original;
    const recordedServer = originOf(ex.clusterUrl);
    const context = explicitContext ?? ex.context;
    if (!context) {
      refused.push({ original: ex, reason: "it was recorded without a context name; pass --context NAME to say where to replay it" });
      continue;
    }
    let server: string;
    try {
      server = serverOf(context);
    } catch (err) {
      if (explicitContext) throw err;
      const why = (err as Error).message.replace(" (from --context)", "").replace(/; contexts: .*$/, "");
      refused.push({ original: ex, reason: `it was recorded with context "${context}", which cannot be used now: ${why}; pass --context NAME to replay it elsewhere` });
      continue;
    }
    const sameServer = server === recordedServer;
    if (!sameServer && !explicitContext) {
      refused.push({
        original: ex,
        reason: `it was recorded against ${recordedServer}, but context "${context}" now points at ${server}; an answer there would say nothing about the recorded one (pass --context ${context} to send it there anyway)`,
      });
      continue;
    }
    const key = requestKey(`${context}\0${recordedServer}`, p.plan);
    const seen = byKey.get(key);
    if (seen) seen.originals.push(ex);
    else byKey.set(key, { originals: [ex], flags: p.flags, plan: p.plan, target: { context, server }, sameServer });
  }
  return { distinct: [...byKey.values()], refused };
}
