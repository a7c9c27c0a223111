// One recording run, shared by `start`, `exec` and `demo`: kubeconfig → upstreams → local CA →
// recorder → one proxy listener per cluster entry (a token per user entry selects the credentials)
// → client kubeconfig, and the orderly shutdown.
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { firstUserOf, pairOf } from "../kubeconfig/identities.js";
import { impersonationOf, type ImpersonationAdded } from "../kubeconfig/impersonation.js";
import { failingUpstream, resolveUpstream, type Upstream } from "../kubeconfig/upstream.js";
import { ensureStateDir, stateDirPath } from "../tls/state-dir.js";
import { loadLocalCa } from "../tls/local-ca.js";
import { startProxy, type ProxyOptions, type RunningProxy } from "../proxy/server.js";
import { localFilesBase, Recorder, type RecorderStats } from "../record/recorder.js";
import { UserError } from "../errors.js";
import type { Exchange, ExchangeSource } from "../types.js";
import { publishRunStatus, runStatusFile } from "./run-status.js";
import { makeLeaf } from "../tls/cert-factory.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_SA_DIR, inClusterKubeconfigYaml, inClusterUpstream, readInClusterConfig } from "../kubeconfig/in-cluster.js";
import { captureFor, startPruner } from "../record/guardrails.js";
import { defaultDbPath } from "./db-path.js";
import { inClusterSource, localSource, newRunId, withSource } from "./source.js";
import { isPostgresSpec } from "../store/db-spec.js";
import { isLoopback, prepareSession, type PreparedSession, type SessionOptions } from "./prepare.js";
import type { HeldPort } from "./held-port.js";
import { startExtras, type SessionExtras } from "../control/extras.js"; // fault:
// analyze's flagsOf, with this module: it loads after a wrapped command starts (exec imports it then), and
// compiled here it is ready before the command's first request (loaded with that request, it delayed it)
import { flagsOf } from "../analyze/lib/engine.js";


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

/** Where the recorder keeps its local files (spill, journal): beside a SQLite file, in the state directory for PostgreSQL. */
function recorderFilesBase(stateDir: string, dbPath: string): string | undefined {
  return isPostgresSpec(dbPath) ? localFilesBase(stateDir, dbPath) : undefined;
}

/** A held port whose proxy starts on its first connection (a cluster entry other than the chosen context's). */
function startOnFirstConnection(clusterName: string, held: HeldPort, start: () => Promise<{ upstream: Upstream; proxy: RunningProxy }>): SessionListener {
  let running: { upstream: Upstream; proxy: RunningProxy } | null = null;
  let starting: Promise<unknown> | null = null;
  held.onFirstConnection(() => {
    // the proxy takes the held connections when it starts; one that cannot start refuses them all
    starting = start().then(
      (r) => void (running = r),
      () => held.take((s) => s.destroy()),
    );
  });
  return {
    clusterName,
    url: held.url,
    port: held.port,
    upstream: () => running?.upstream ?? null,
    close: async (graceMs) => {
      held.close();
      await starting;
      await running?.proxy.close(graceMs);
    },
  };
}

export async function startSession(o: SessionOptions): Promise<RecordingSession> {
  return startPrepared(await prepareSession(o));
}

/**
 * The second half of a run: recorder, extras, and the chosen context's proxy on its held port (connections
 * that waited are served first), then the client kubeconfig; the other clusters' proxies start on their
 * first connection. A step that fails undoes the ones before it.
 */
export async function startPrepared(p: PreparedSession): Promise<RecordingSession> {
  const o = p.options;
  const { loaded, upstream, ids, stateDir, dbPath, local, token } = p;
  try {
    await upstream.headers();
  } catch (err) {
    o.warn(`kubewire: warning: ${(err as Error).message}; requests will be answered with this error until it is fixed`);
  }
  const ownRecorder = !o.recorder;
  const recorder = o.recorder ?? new Recorder({ dbPath, filesBase: recorderFilesBase(stateDir, dbPath), flagsOf, deferMs: o.deferWritesMs, check: o.checkDb, onError: (m) => o.warn(`kubewire: recording problem: ${m}`) });
  // what is started is undone, last first, if a later step fails
  const started: Array<() => unknown> = [() => p.abort()];
  const undo = async () => {
    for (const u of started.reverse()) await u();
  };
  let extras: SessionExtras; // fault:
  let guard: ReturnType<typeof guardrails>;
  let proxy: RunningProxy;
  /** A (cluster, user) pair's upstream, resolved when a client first uses it; one that cannot be read answers with why. */
  const pairUpstream = (cluster: string, user: string) => {
    const pair = pairOf(loaded, cluster, user);
    return resolveUpstream(pair).catch((err: Error) => failingUpstream(pair, err));
  };
  const source = localSource(newRunId());
  /** A cluster's proxy on its held port: its first user's identity, and every other user's token selecting that user's. */
  const serve = (up: Upstream, listener: HeldPort, preconnect = false) =>
    startProxy({
      upstream: up,
      sink: withSource(guard.sink(sinkFor(extras.sink, loaded.merged)), source), // fault: metrics and logs see each exchange on its way to the recorder
      faults: extras.faults, // fault:
      ca: local.ca,
      server: local.server,
      token: ids?.tokens.get(up.userName) ?? token,
      identities: ids ? [...ids.tokens].filter(([user]) => user !== up.userName).map(([user, t]) => ({ token: t, upstream: () => pairUpstream(up.clusterName, user) })) : [],
      listener,
      preconnect,
      ...proxyLimits(o),
    });
  try {
    if (ownRecorder) {
      recorder.open();
      started.push(() => recorder.close());
    }
    extras = await startExtras(o.extras, { sink: recorder, token, stateDir }); // fault:
    started.push(() => extras.close()); // fault:
    guard = guardrails(o, dbPath);
    started.push(() => guard.stop(recorder));
    proxy = await serve(upstream, p.ports[0].port, !!o.preconnect);
    started.push(() => proxy.close(0));
    p.writeKubeconfig();
  } catch (err) {
    await undo();
    throw err;
  }
  const listeners: SessionListener[] = [
    { clusterName: upstream.clusterName, url: proxy.url, port: proxy.port, upstream: () => upstream, close: (g) => proxy.close(g) },
    ...p.ports.slice(1).map(({ clusterName, port }) =>
      startOnFirstConnection(clusterName, port, async () => {
        const up = await pairUpstream(clusterName, firstUserOf(loaded, clusterName));
        return { upstream: up, proxy: await serve(up, port) };
      }),
    ),
  ];
  const kubeconfigPath = p.kubeconfigPath;
  return runningSession(
    { upstream, proxy, listeners, recorder, source, dbPath, kubeconfigPath, client: { url: new URL(proxy.url), caPem: local.ca.certPem, token }, stateDir, extras }, // fault: extras
    {
      ownRecorder,
      guard,
      closeListeners: (graceMs) => Promise.all(listeners.map((l) => l.close(graceMs))).then(() => undefined),
      afterClose: async () => {
        await extras.close(); // fault:
        p.release();
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
