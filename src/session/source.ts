// Where a run records from: the machine's host name, a short random id per run and, in a pod, the
// pod and its namespace; stamped on each exchange on its way to the recorder (the service account,
// which the proxy reads per request from the client's token, is kept beside them).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Exchange, ExchangeSource } from "../types.js";

interface Sink {
  record(ex: Exchange): void;
}

/** A run's id: 8 hex digits, random, so that two runs (on one machine or many) never share one. */
export function newRunId(): string {
  return randomBytes(4).toString("hex");
}

/** The source of an ordinary run: this machine and the run. */
export function localSource(run: string): ExchangeSource {
  return { host: hostname(), run };
}

/**
 * The source of an in-cluster run: the pod's name as the downward API (POD_NAME) or the kubelet
 * (HOSTNAME, the pod's name unless the spec sets hostname) gives it, and the pod's namespace.
 */
export function inClusterSource(run: string, env: NodeJS.ProcessEnv, namespace: string): ExchangeSource {
  const s = localSource(run);
  const pod = env.POD_NAME || env.HOSTNAME || "";
  if (pod) s.pod = pod;
  if (namespace) s.namespace = namespace;
  return s;
}

/** Stamps the run's source on every exchange; what the proxy already knows of it (the service account) is kept. */
export function withSource<S extends Sink>(sink: S, source: ExchangeSource): Sink {
  return {
    record: (ex: Exchange) => {
      ex.source = { ...source, ...ex.source };
      sink.record(ex);
    },
  };
}
