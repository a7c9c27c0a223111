// The session options' defaults and their translation into SessionOptions, apart from commander: the
// options' definitions (session-options.ts) and `exec`'s fast start (exec-steps.ts) share them.
import type { SessionOptions } from "../session/prepare.js";
import { loadRules } from "../fault/rules.js"; // fault: bad rules fail before anything starts

/** What commander gives for a session option the user did not pass (milliseconds, bytes). */
export const SESSION_DEFAULTS = {
  captureLimit: 65536,
  connectTimeout: 10_000,
  headerTimeout: 60_000,
  keepaliveIdle: 30_000,
  keepaliveTimeout: 15_000,
  handshakeTimeout: 10_000,
  logFormat: "text",
} as const;

export function sessionOptionsFrom(o: Record<string, any>, warn: (l: string) => void): SessionOptions {
  return {
    kubeconfig: o.kubeconfig,
    context: o.context,
    listen: o.listen,
    allowRemote: !!o.allowRemote,
    wholeKubeconfig: true,
    db: o.db,
    stateDir: o.stateDir,
    writeKubeconfig: o.writeKubeconfig,
    captureLimit: o.captureLimit,
    connectTimeoutMs: o.connectTimeout,
    headersTimeoutMs: o.headerTimeout,
    keepaliveIdleMs: o.keepaliveIdle,
    keepaliveTimeoutMs: o.keepaliveTimeout,
    handshakeTimeoutMs: o.handshakeTimeout,
    warn,
    extras: { rules: loadRules({ fault: o.fault, faultsFile: o.faults }), metrics: o.metrics, allowRemote: !!o.allowRemote, logFormat: o.logFormat, logFile: o.logFile }, // fault:
  };
}
