// One recording run, shared by `start`, `exec` and `demo`: kubeconfig → upstreams → local CA →
// recorder → one proxy listener per cluster entry (a token per user entry selects the credentials)
// → client kubeconfig, and the orderly shutdown.
import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import { rmSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";
import { contextOf } from "../kubeconfig/load.js";
import { firstUserOf, identitiesOf, pairOf } from "../kubeconfig/identities.js";
import { impersonationOf, type ImpersonationAdded } from "../kubeconfig/impersonation.js";
import { kubeconfigFiles, mergeKubeconfigs, readKubeconfigFile } from "../kubeconfig/read.js";
import { failingUpstream, resolveUpstream, type Upstream } from "../kubeconfig/upstream.js";
import { writeClientKubeconfig } from "../kubeconfig/client-kubeconfig.js";
import { stablePort, STABLE_PORT_TRIES } from "../kubeconfig/stable-port.js";
import { ensureStateDir, stateDirPath } from "../tls/state-dir.js";
import { loadLocalCa } from "../tls/local-ca.js";
import { startProxy, type ProxyOptions, type RunningProxy } from "../proxy/server.js";
import { Recorder, type RecorderStats } from "../record/recorder.js";
import { UserError } from "../errors.js";
import type { Exchange, ExchangeSource } from "../types.js";
import { publishRunStatus, runStatusFile } from "./run-status.js";
import { makeLeaf } from "../tls/cert-factory.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_SA_DIR, inClusterKubeconfigYaml, inClusterUpstream, readInClusterConfig } from "../kubeconfig/in-cluster.js";
import { captureFor, startPruner } from "../record/guardrails.js";
import { defaultDbPath, recorderFilesBase } from "./db-path.js";
import { inClusterSource, localSource, newRunId, withSource } from "./source.js";
import { startExtras, type ExtrasOptions, type SessionExtras } from "../control/extras.js"; // fault:


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

/** One cluster entry's listener: the chosen context's cluster's proxy runs from the start, the others' on their first connection. */
export interface SessionListener {
  clusterName: string;
  url: string;
  port: number;
  /** the listener's first identity (this cluster with the first user naming it) once its proxy runs */
  upstream(): Upstream | null;
  close(graceMs: number): Promise<void>;
}

export interface RecordingSession {
  /** the chosen context (--context, else current-context) */
  upstream: Upstream;
  proxy: RunningProxy;
  /** every cluster entry's listener, the chosen context's cluster first */
  listeners: SessionListener[];
  recorder: Recorder;
  /** where this run records from (host, run id; pod and namespace in-cluster), stamped on every exchange */
  source: ExchangeSource;
  dbPath: string;
  kubeconfigPath: string;
  /** what the generated kubeconfig holds, for kubewire's own requests through the proxy (doctor, replay) */
  client: { url: URL; caPem: string; token: string };
  stateDir: string;
  /** the fault engine, metrics and their endpoints */
  /** fault rules, metrics and logs (absent for an in-cluster run) */
  extras?: SessionExtras; // fault:
  /** stop accepting, cut open streams after graceMs, flush every record */
  stop(graceMs?: number): Promise<RecorderStats>;
}

/** analyze's flagsOf, loaded with the first exchange recorded: its rules are not loaded before a wrapped command starts */
const flagsOf = { load: () => import("../analyze/lib/engine.js").then((m) => m.flagsOf) };

function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return a === "::1" || (net.isIPv4(a) && a.startsWith("127."));
}

/** --listen HOST: every address it resolves to must be loopback unless --allow-remote; a name is resolved, not judged by its spelling. */
export async function checkListenHost(
  host: string,
  allowRemote: boolean,
  warn: (l: string) => void,
  resolveName: (name: string) => Promise<Array<{ address: string }>> = (name) => lookup(name, { all: true }),
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

/** Records what kubewire added upstream on the user's behalf (the exchange's kubeconfig user entry's as, as-groups...) with each forwarded exchange. */
function sinkFor(recorder: ProxyOptions["sink"], merged: Record<string, any>): ProxyOptions["sink"] {
  const added = new Map<string, ImpersonationAdded>();
  for (const u of (merged.users ?? []) as Array<Record<string, any>>) {
    const names = impersonationOf(u?.user);
    if (names && typeof u.name === "string" && !added.has(u.name)) added.set(u.name, names);
  }
  if (added.size === 0) return recorder;
  return {
    record: (ex: Exchange) => {
      const names = added.get(ex.kubeUser);
      if (names && ex.request.method !== "" && ex.error?.code !== "PROXY_AUTH" && ex.error?.phase !== "credentials") ex.impersonation = names;
      recorder.record(ex);
    },
  };
}

function clusterServer(merged: Record<string, any>, cluster: string): string {
  return (merged.clusters as Array<Record<string, any>>).find((c) => c.name === cluster)?.cluster?.server ?? "";
}

/**
 * A cluster's port, bound at once by a plain TCP listener (cheap: start-up is the budget of a wrapped
 * kubectl run); the cluster's proxy starts on the first connection, on a loopback port, and each
 * connection is relayed to it byte for byte (TLS runs end to end between the client and the proxy).
 */
function listenLazily(clusterName: string, host: string, port: number, start: () => Promise<{ upstream: Upstream; proxy: RunningProxy }>): Promise<SessionListener> {
  let inner: Promise<{ upstream: Upstream; proxy: RunningProxy }> | null = null;
  let running: { upstream: Upstream; proxy: RunningProxy } | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    inner ??= start().then((r) => (running = r));
    inner.then(
      ({ proxy }) => {
        if (client.destroyed) return;
        const to = net.connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
        sockets.add(to);
        // An orderly end reaches the client through the pipe, after what is queued; only a failure cuts it.
        to.once("close", (hadError) => {
          sockets.delete(to);
          if (hadError) client.destroy();
        });
        to.on("error", () => to.destroy());
        client.once("close", () => to.destroy());
        client.pipe(to).pipe(client);
      },
      () => client.destroy(),
    );
  });
  return new Promise<SessionListener>((resolveListener, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      server.on("error", () => undefined);
      const bound = (server.address() as net.AddressInfo).port;
      const urlHost = host.includes(":") ? `[${host}]` : host;
      resolveListener({
        clusterName,
        url: `https://${urlHost}:${bound}`,
        port: bound,
        upstream: () => running?.upstream ?? null,
        close: async (graceMs) => {
          server.close();
          if (inner) await inner.then(({ proxy }) => proxy.close(graceMs), () => undefined);
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}

export async function startSession(o: SessionOptions): Promise<RecordingSession> {
  const host = o.listen?.host ?? "127.0.0.1";
  await checkListenHost(host, !!o.allowRemote, o.warn);
  const files = kubeconfigFiles(o.kubeconfig, process.env);
  const merged = mergeKubeconfigs(files.map(readKubeconfigFile));
  const loaded = contextOf(files, merged, o.context);
  const upstream = await resolveUpstream(loaded);
  try {
    await upstream.headers();
  } catch (err) {
    o.warn(`kubewire: warning: ${(err as Error).message}; requests will be answered with this error until it is fixed`);
  }
  const ids = o.wholeKubeconfig ? identitiesOf(loaded) : null;
  const stateDir = ensureStateDir(stateDirPath(o.stateDir));
  const dbPath = defaultDbPath(stateDir, o.db);
  const ownRecorder = !o.recorder;
  const recorder = o.recorder ?? new Recorder({ dbPath, filesBase: recorderFilesBase(stateDir, dbPath), flagsOf, deferMs: o.deferWritesMs, onError: (m) => o.warn(`kubewire: recording problem: ${m}`) });
  if (ownRecorder) recorder.open();
  const local = loadLocalCa(stateDir);
  const token = ids?.tokens.get(loaded.userName) ?? randomBytes(32).toString("base64url");
  let extras: SessionExtras; // fault:
  try {
    extras = await startExtras(o.extras, { sink: recorder, token, stateDir }); // fault:
  } catch (err) {
    if (ownRecorder) await recorder.close();
    throw err;
  }
  const guard = guardrails(o, dbPath);
  const source = localSource(newRunId());
  const sink = withSource(guard.sink(sinkFor(extras.sink, merged)), source); // fault: metrics and logs see each exchange on its way to the recorder
  /** A (cluster, user) pair's upstream, resolved when a client first uses it; one that cannot be read answers with why. */
  const pairUpstream = (cluster: string, user: string) => {
    const pair = pairOf(loaded, cluster, user);
    return resolveUpstream(pair).catch((err: Error) => failingUpstream(pair, err));
  };
  /** A cluster's listener: its first user's identity, and every other user's token selecting that user's. */
  const listen = (up: Upstream, port: number, on = host) =>
    startProxy({
      upstream: up,
      sink,
      faults: extras.faults, // fault:
      ca: local.ca,
      server: local.server,
      token: ids?.tokens.get(up.userName) ?? token,
      identities: ids ? [...ids.tokens].filter(([user]) => user !== up.userName).map(([user, t]) => ({ token: t, upstream: () => pairUpstream(up.clusterName, user) })) : [],
      host: on,
      port,
      ...proxyLimits(o),
    });
  /** The cluster's stable port, else its next candidates, else any free port. */
  const onStablePort = async <T>(cluster: string, bind: (port: number) => Promise<T>): Promise<T> => {
    const key = { files, cluster, server: String(clusterServer(merged, cluster)) };
    for (let i = 0; i < STABLE_PORT_TRIES; i++) {
      try {
        return await bind(stablePort(key, i));
      } catch {
        /* busy (another kubewire, another program): the next candidate */
      }
    }
    return bind(0);
  };
  const listeners: SessionListener[] = [];
  let proxy: RunningProxy;
  try {
    proxy = o.listen ? await listen(upstream, o.listen.port) : await onStablePort(loaded.clusterName, (port) => listen(upstream, port));
    listeners.push({ clusterName: upstream.clusterName, url: proxy.url, port: proxy.port, upstream: () => upstream, close: (g) => proxy.close(g) });
    const rest = await Promise.allSettled(
      (ids?.clusters ?? []).slice(1).map((cluster) =>
        onStablePort(cluster, (port) =>
          listenLazily(cluster, host, port, async () => {
            const up = await pairUpstream(cluster, firstUserOf(loaded, cluster));
            return { upstream: up, proxy: await listen(up, 0, "127.0.0.1") };
          }),
        ),
      ),
    );
    for (const r of rest) if (r.status === "fulfilled") listeners.push(r.value);
    const failed = rest.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    await extras.close(); // fault:
    if (ownRecorder) await recorder.close();
    throw err;
  }
  const ephemeral = !o.writeKubeconfig && !!o.ephemeralKubeconfig;
  const kubeconfigPath = resolve(o.writeKubeconfig ?? join(stateDir, ephemeral ? `kubeconfig-${process.pid}-${proxy.port}` : "kubeconfig"));
  writeClientKubeconfig(kubeconfigPath, {
    contextName: upstream.contextName,
    namespace: upstream.namespace,
    proxyUrl: proxy.url,
    caPem: local.ca.certPem,
    token,
    ...(ids ? { merged, clusterUrls: new Map(listeners.map((l) => [l.clusterName, l.url])), tokens: ids.tokens } : {}),
  });
  return runningSession(
    { upstream, proxy, listeners, recorder, source, dbPath, kubeconfigPath, client: { url: new URL(proxy.url), caPem: local.ca.certPem, token }, stateDir, extras }, // fault: extras
    {
      ownRecorder,
      guard,
      closeListeners: (graceMs) => Promise.all(listeners.map((l) => l.close(graceMs))).then(() => undefined),
      afterClose: async () => {
        await extras.close(); // fault:
        if (ephemeral) rmSync(kubeconfigPath, { force: true });
      },
    },
  );
}

/** The proxy options every listener of a run takes from the session's: capture limit, deadlines, origin. */
function proxyLimits(o: SessionOptions): Partial<ProxyOptions> {
  return {
    captureLimit: o.captureLimit,
    connectTimeoutMs: o.connectTimeoutMs,
    tlsTimeoutMs: o.connectTimeoutMs,
    headersTimeoutMs: o.headersTimeoutMs,
    keepaliveIdleMs: o.keepaliveIdleMs,
    keepaliveTimeoutMs: o.keepaliveTimeoutMs,
    handshakeTimeoutMs: o.handshakeTimeoutMs,
    origin: o.origin,
  };
}

/** What every recording run shares once its listeners are up: the published run status and an orderly stop. */
function runningSession(
  s: Omit<RecordingSession, "stop">,
  parts: { ownRecorder: boolean; guard: ReturnType<typeof guardrails>; closeListeners: (graceMs: number) => Promise<void>; afterClose?: () => Promise<void> },
): RecordingSession {
  const startedAt = new Date().toISOString();
  const unpublish = publishRunStatus(runStatusFile(s.stateDir, process.pid, s.proxy.port), () => ({
    pid: process.pid,
    startedAt,
    run: s.source.run ?? "",
    source: s.source,
    url: s.proxy.url,
    context: s.upstream.contextName,
    server: s.upstream.server.origin,
    db: s.dbPath,
    kubeconfig: s.kubeconfigPath,
    stats: s.recorder.stats(),
  }));
  let stopping: Promise<RecorderStats> | null = null;
  return {
    ...s,
    stop: (graceMs = 1000) =>
      (stopping ??= (async () => {
        await parts.closeListeners(graceMs);
        await parts.afterClose?.();
        unpublish();
        await parts.guard.stop(s.recorder);
        if (!parts.ownRecorder) {
          await s.recorder.flush();
          return s.recorder.stats();
        }
        return s.recorder.close();
      })()),
  };
}

/** --capture-for and --max-db-size around a run's sinks; stop() prunes once more after the last flush. */
function guardrails(o: SessionOptions, dbPath: string) {
  const since = Date.now();
  const pruner = o.maxDbBytes ? startPruner(dbPath, o.maxDbBytes, o.warn) : null;
  return {
    sink: (s: ProxyOptions["sink"]) => captureFor(s, o.captureForMs === undefined ? undefined : Math.max(1, o.captureForMs - (Date.now() - since)), () => o.warn("kubewire: --capture-for is over: still forwarding, no longer recording")),
    stop: async (recorder: Recorder) => {
      if (!pruner) return;
      await recorder.flush();
      pruner.stop();
    },
  };
}

/**
 * `start --in-cluster`: one loopback listener in front of the API server of the pod's cluster. It
 * holds no credentials: local clients prove themselves with a client certificate from the local CA,
 * and the bearer token they send (the pod's projected token) goes upstream unchanged.
 */
export async function startInClusterSession(o: SessionOptions): Promise<RecordingSession> {
  const host = o.listen?.host ?? "127.0.0.1";
  if (!isLoopback(host) && host !== "localhost") throw new UserError(`--listen ${host}: --in-cluster listens on the pod's loopback only`, "the sidecar holds no credentials, but the app's token passes through it: keep it inside the pod");
  const saDir = o.inCluster?.saDir ?? DEFAULT_SA_DIR;
  const env = o.inCluster?.env ?? process.env;
  const cfg = readInClusterConfig(saDir, env);
  const source = inClusterSource(newRunId(), env, cfg.namespace);
  const upstream = inClusterUpstream(cfg);
  const stateDir = ensureStateDir(stateDirPath(o.stateDir));
  const dbPath = defaultDbPath(stateDir, o.db);
  const ownRecorder = !o.recorder;
  const recorder = o.recorder ?? new Recorder({ dbPath, filesBase: recorderFilesBase(stateDir, dbPath), flagsOf, onError: (m) => o.warn(`kubewire: recording problem: ${m}`) });
  if (ownRecorder) recorder.open();
  const local = loadLocalCa(stateDir);
  const client = makeLeaf(local.ca, { commonName: "kubewire in-cluster client", client: true, days: 397 });
  const guard = guardrails(o, dbPath);
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({
      upstream,
      sink: withSource(guard.sink(recorder), source),
      ca: local.ca,
      server: local.server,
      token: randomBytes(32).toString("base64url"),
      host,
      port: o.listen?.port ?? 8443,
      ...proxyLimits(o),
      passThroughAuthorization: true,
    });
  } catch (err) {
    if (ownRecorder) await recorder.close();
    throw err;
  }
  const kubeconfigPath = resolve(o.writeKubeconfig ?? join(stateDir, "kubeconfig"));
  mkdirSync(dirname(kubeconfigPath), { recursive: true });
  writeFileSync(kubeconfigPath, inClusterKubeconfigYaml({ proxyUrl: proxy.url, caPem: local.ca.certPem, client, tokenFile: cfg.tokenFile, namespace: cfg.namespace }), { mode: 0o600 });
  return runningSession(
    {
      upstream,
      proxy,
      listeners: [{ clusterName: upstream.clusterName, url: proxy.url, port: proxy.port, upstream: () => upstream, close: (g) => proxy.close(g) }],
      recorder,
      source,
      dbPath,
      kubeconfigPath,
      client: { url: new URL(proxy.url), caPem: local.ca.certPem, token: "" },
      stateDir,
    },
    { ownRecorder, guard, closeListeners: (graceMs) => proxy.close(graceMs) },
  );
}

export function describeStats(s: RecorderStats): string {
  const extra = [s.spilled ? `${s.spilled} spilled to the side file (loaded back on the next start)` : "", s.dropped ? `${s.dropped} DROPPED` : ""].filter(Boolean);
  return `kubewire: recorded ${s.written} exchange${s.written === 1 ? "" : "s"}${extra.length ? `, ${extra.join(", ")}` : ""}`;
}
