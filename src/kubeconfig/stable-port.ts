// The port a cluster entry's listener asks for first: derived from the kubeconfig files, the cluster's
// name and its server, so the next run listens where the last one did and clients' discovery caches
// (kept per host:port, as direct: every context of the cluster shares it) stay warm; further
// candidates for when that port is busy.
import { createHash } from "node:crypto";
import { resolve } from "node:path";

/** Below Linux's ephemeral range (32768+) and Kubernetes' NodePort range (30000-32767). */
const FIRST = 20000;
const SPAN = 10000;

export interface PortKey {
  files: string[];
  cluster: string;
  server: string;
}

/** The i-th candidate port for this cluster entry (i = 0 is its own; later ones when that is busy). */
export function stablePort(key: PortKey, i = 0): number {
  const h = createHash("sha256").update(JSON.stringify([key.files.map((f) => resolve(f)), key.cluster, key.server, i])).digest();
  return FIRST + (h.readUInt32BE(0) % SPAN);
}

/** How many candidates to try before taking any free port. */
export const STABLE_PORT_TRIES = 4;
