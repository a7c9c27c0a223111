// The first half of a recording run, cheap enough to come before a wrapped command starts: read the
// kubeconfig and the chosen context's credentials (a file that cannot be read refuses the run before any
// command starts), bind every cluster entry's port (stable per cluster). Nothing here loads the proxy or
// the database; `startPrepared` (recording-session.ts) does that, while `exec`'s command starts up, and
// connections that arrive meanwhile wait on the held ports.
import { randomBytes } from "node:crypto";
import net from "node:net";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { rmQuiet } from "../remove-file.js";
import { contextOf, type LoadedKubeconfig } from "../kubeconfig/load.js";
import { identitiesOf, type KubeconfigIdentities } from "../kubeconfig/identities.js";
import { kubeconfigFiles, mergeKubeconfigs, readKubeconfigFile } from "../kubeconfig/read.js";
import { writeClientKubeconfig } from "../kubeconfig/client-kubeconfig.js";
import { stablePort, STABLE_PORT_TRIES } from "../kubeconfig/stable-port.js";
import { ensureStateDir, stateDirPath } from "../tls/state-dir.js";
import { loadLocalCa, type LocalCa } from "../tls/local-ca.js";
import { resolveUpstream, type Upstream } from "../kubeconfig/upstream.js";
import { defaultDbPath } from "./db-path.js";
import { holdPort, type HeldPort } from "./held-port.js";
import type { ExtrasOptions } from "../control/extras.js"; // fault:
import type { Recorder } from "../record/recorder.js";

export interface SessionOptions {
  kubeconfig?: string;
  context?: string;
  /** where the chosen context's cluster listens; without it, a stable port per cluster on 127.0.0.1 */
  listen?: { host: string; port: number };
  allowRemote?: boolean;
  /** the generated kubeconfig holds the user's whole kubeconfig: a listener per cluster entry, a token per user entry (start, exec) */
  wholeKubeconfig?: boolean;
  db?: string;
  stateDir?: string;
  writeKubeconfig?: string;
  /** write the client kubeconfig to a per-run file in the state dir, removed on stop */
  ephemeralKubeconfig?: boolean;
  captureLimit?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** upstream liveness (client-go's HTTP/2 health check) and the client handshake deadline: see ProxyOptions */
  keepaliveIdleMs?: number;
  keepaliveTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** what the recorded exchanges say they came from (default "proxy") */
  origin?: "proxy" | "doctor" | "replay";
  /** record into this (shared, already open) recorder instead of opening one for the db */
  recorder?: Recorder;
  /** the run's own recorder holds its batches back this long (see RecorderOptions.deferMs; exec) */
  deferWritesMs?: number;
  /**
   * open the chosen context's upstream connection as soon as the proxy runs, not with the first request (exec:
   * the handshake happens while the wrapped command starts up; that request then shows a reused connection)
   */
  preconnect?: boolean;
  /** the run's own recorder runs quick_check on the file when it opens it (default true; see RecorderOptions.check) */
  checkDb?: boolean;
  /** warnings and notices (stderr) */
  warn: (line: string) => void;
  /** in-cluster: the upstream from KUBERNETES_SERVICE_* and the service account directory; clients' own tokens pass through */
  inCluster?: { saDir?: string; env?: NodeJS.ProcessEnv };
  /** guardrail: stop recording (keep forwarding) after this long */
  captureForMs?: number;
  /** guardrail: prune the oldest exchanges so the database's pages in use stay under this */
  maxDbBytes?: number;
  /** fault rules, metrics endpoint, JSON connection log, control endpoint */
  extras?: ExtrasOptions; // fault:
}

/** A run whose credentials are read and whose ports are bound, before its proxy and recorder start. */
export interface PreparedSession {
  options: SessionOptions;
  /** the chosen context, with the kubeconfig files read and their merged content */
  loaded: LoadedKubeconfig;
  /** the chosen context's upstream: its credentials read (an exec plugin runs with the first request) */
  upstream: Upstream;
  /** the whole kubeconfig's listeners and tokens (wholeKubeconfig), else null */
  ids: KubeconfigIdentities | null;
  /** the chosen context's proxy token */
  token: string;
  stateDir: string;
  dbPath: string;
  local: LocalCa;
  /** every cluster entry's held port, the chosen context's cluster first */
  ports: Array<{ clusterName: string; port: HeldPort }>;
  kubeconfigPath: string;
  /**
   * Writes the client kubeconfig (once). `exec` calls it before its command starts; startPrepared calls it
   * once the proxy runs, so a run that fails never replaces the kubeconfig a running `start` wrote.
   */
  writeKubeconfig(): void;
  /** the run stopped: removes the kubeconfig when it is this run's own (exec's, without --write-kubeconfig) */
  release(): void;
  /** the run will not start: closes the ports (waiting connections too) and releases */
  abort(): void;
}

export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return a === "::1" || (net.isIPv4(a) && a.startsWith("127."));
}

/** --listen HOST: every address it resolves to must be loopback unless --allow-remote; a name is resolved, not judged by its spelling. */
export async function checkListenHost(
  host: string,
  allowRemote: boolean,
  warn: (l: string) => void,
  resolveName: (name: string) => Promise<Array<{ address: string }>> = async (name) => (await import("node:dns/promises")).lookup(name, { all: true }),
): Promise<void> {
  let addresses: string[];
  if (net.isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await resolveName(host)).map((a) => a.address);
    } catch (err) {
      throw new UserError(`--listen ${host}: cannot resolve the name (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  const remote = addresses.filter((a) => !isLoopback(a));
  if (remote.length === 0) return;
  const what = net.isIP(host) ? `${host} is not a loopback address` : `${host} resolves to ${remote.join(", ")}, which ${remote.length === 1 ? "is" : "are"} not loopback`;
  if (!allowRemote) throw new UserError(`--listen ${what}`, "add --allow-remote to expose the proxy (and your cluster credentials) to other machines");
  warn(`kubewire: WARNING: listening on ${host}: anyone who can reach this port and holds the proxy token uses YOUR cluster credentials`);
}

function clusterServer(merged: Record<string, any>, cluster: string): string {
  return (merged.clusters as Array<Record<string, any>>).find((c) => c.name === cluster)?.cluster?.server ?? "";
}

/** Reads the kubeconfig and the chosen context's credentials and binds the ports; throws UserError for what cannot run. */
export async function prepareSession(o: SessionOptions): Promise<PreparedSession> {
  const host = o.listen?.host ?? "127.0.0.1";
  await checkListenHost(host, !!o.allowRemote, o.warn);
  const files = kubeconfigFiles(o.kubeconfig, process.env);
  const merged = mergeKubeconfigs(files.map(readKubeconfigFile));
  const loaded = contextOf(files, merged, o.context);
  const upstream = await resolveUpstream(loaded);
  const ids = o.wholeKubeconfig ? identitiesOf(loaded) : null;
  const stateDir = ensureStateDir(stateDirPath(o.stateDir));
  const dbPath = defaultDbPath(stateDir, o.db);
  const local = loadLocalCa(stateDir);
  const token = ids?.tokens.get(loaded.userName) ?? randomBytes(32).toString("base64url");
  /** The cluster's stable port, else its next candidates, else any free port. */
  const onStablePort = async (cluster: string): Promise<HeldPort> => {
    const key = { files, cluster, server: String(clusterServer(merged, cluster)) };
    for (let i = 0; i < STABLE_PORT_TRIES; i++) {
      try {
        return await holdPort(host, stablePort(key, i));
      } catch {
        /* busy (another kubewire, another program): the next candidate */
      }
    }
    return holdPort(host, 0);
  };
  const ports: PreparedSession["ports"] = [];
  const closePorts = () => ports.forEach((p) => p.port.close());
  try {
    ports.push({ clusterName: loaded.clusterName, port: o.listen ? await holdPort(host, o.listen.port) : await onStablePort(loaded.clusterName) });
    const rest = await Promise.allSettled((ids?.clusters ?? []).slice(1).map(async (clusterName) => ({ clusterName, port: await onStablePort(clusterName) })));
    for (const r of rest) if (r.status === "fulfilled") ports.push(r.value);
    const failed = rest.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } catch (err) {
    closePorts();
    throw err;
  }
  const chosen = ports[0].port;
  const ephemeral = !o.writeKubeconfig && !!o.ephemeralKubeconfig;
  const kubeconfigPath = resolve(o.writeKubeconfig ?? join(stateDir, ephemeral ? `kubeconfig-${process.pid}-${chosen.port}` : "kubeconfig"));
  let written = false;
  const release = () => {
    if (ephemeral && written) rmQuiet(kubeconfigPath);
  };
  return {
    options: o,
    loaded,
    upstream,
    ids,
    token,
    stateDir,
    dbPath,
    local,
    ports,
    kubeconfigPath,
    writeKubeconfig: () => {
      if (written) return;
      writeClientKubeconfig(kubeconfigPath, {
        contextName: loaded.contextName,
        namespace: loaded.namespace,
        proxyUrl: chosen.url,
        caPem: local.ca.certPem,
        token,
        ...(ids ? { merged, clusterUrls: new Map(ports.map((p) => [p.clusterName, p.port.url])), tokens: ids.tokens } : {}),
      });
      written = true;
    },
    release,
    abort: () => {
      closePorts();
      release();
    },
  };
}
