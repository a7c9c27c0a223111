// One recording run, shared by `start`, `exec` and `demo`: kubeconfig → upstream →
// local CA → recorder → proxy → client kubeconfig, and the orderly shutdown.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadKubeconfig } from "../kubeconfig/load.js";
import { resolveUpstream, type Upstream } from "../kubeconfig/upstream.js";
import { writeClientKubeconfig } from "../kubeconfig/client-kubeconfig.js";
import { ensureStateDir, stateDirPath } from "../tls/state-dir.js";
import { loadLocalCa } from "../tls/local-ca.js";
import { startProxy, type RunningProxy } from "../proxy/server.js";
import { Recorder, type RecorderStats } from "../record/recorder.js";
import { UserError } from "../errors.js";
import { flagsOf } from "../analyze/lib/engine.js";
import { publishRunStatus, runStatusFile } from "./run-status.js";
import { defaultDbPath } from "./db-path.js";
import { startExtras, type ExtrasOptions, type SessionExtras } from "../control/extras.js"; // fault:


export interface SessionOptions {
  kubeconfig?: string;
  context?: string;
  listen?: { host: string; port: number };
  allowRemote?: boolean;
  db?: string;
  stateDir?: string;
  writeKubeconfig?: string;
  /** write the client kubeconfig to a per-run file in the state dir, removed on stop */
  ephemeralKubeconfig?: boolean;
  captureLimit?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** what the recorded exchanges say they came from (default "proxy") */
  origin?: "proxy" | "doctor" | "replay";
  /** record into this (shared, already open) recorder instead of opening one for the db */
  recorder?: Recorder;
  /** warnings and notices (stderr) */
  warn: (line: string) => void;
  /** fault rules, metrics endpoint, JSON connection log, control endpoint */
  extras?: ExtrasOptions; // fault:
}

export interface RecordingSession {
  upstream: Upstream;
  proxy: RunningProxy;
  recorder: Recorder;
  dbPath: string;
  kubeconfigPath: string;
  /** what the generated kubeconfig holds, for kubewire's own requests through the proxy (doctor, replay) */
  client: { url: URL; caPem: string; token: string };
  stateDir: string;
  /** the fault engine, metrics and their endpoints */
  extras: SessionExtras; // fault:
  /** stop accepting, cut open streams after graceMs, flush every record */
  stop(graceMs?: number): Promise<RecorderStats>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function startSession(o: SessionOptions): Promise<RecordingSession> {
  const listen = o.listen ?? { host: "127.0.0.1", port: 8443 };
  if (!LOOPBACK.has(listen.host) && !listen.host.startsWith("127.") && !o.allowRemote) {
    throw new UserError(`--listen ${listen.host} is not a loopback address`, "add --allow-remote to expose the proxy (and your cluster credentials) to other machines");
  }
  if (o.allowRemote && !LOOPBACK.has(listen.host)) {
    o.warn(`kubewire: WARNING: listening on ${listen.host}: anyone who can reach this port and holds the proxy token uses YOUR cluster credentials`);
  }
  const loaded = loadKubeconfig({ kubeconfig: o.kubeconfig, context: o.context });
  const upstream = await resolveUpstream(loaded);
  try {
    await upstream.headers();
  } catch (err) {
    o.warn(`kubewire: warning: ${(err as Error).message}; requests will be answered with this error until it is fixed`);
  }
  const stateDir = ensureStateDir(stateDirPath(o.stateDir));
  const dbPath = defaultDbPath(stateDir, o.db);
  const ownRecorder = !o.recorder;
  const recorder = o.recorder ?? new Recorder({ dbPath, flagsOf, onError: (m) => o.warn(`kubewire: recording problem: ${m}`) });
  if (ownRecorder) recorder.open();
  const local = loadLocalCa(stateDir);
  const token = randomBytes(32).toString("base64url");
  let proxy: RunningProxy;
  let extras: SessionExtras | undefined; // fault:
  try {
    extras = await startExtras(o.extras, { sink: recorder, token, stateDir }); // fault:
    proxy = await startProxy({
      upstream,
      sink: extras.sink, // fault: metrics and logs see each exchange on its way to the recorder
      faults: extras.faults, // fault:
      ca: local.ca,
      server: local.server,
      token,
      host: listen.host,
      port: listen.port,
      captureLimit: o.captureLimit,
      connectTimeoutMs: o.connectTimeoutMs,
      tlsTimeoutMs: o.connectTimeoutMs,
      headersTimeoutMs: o.headersTimeoutMs,
      origin: o.origin,
    });
  } catch (err) {
    await extras?.close(); // fault:
    if (ownRecorder) await recorder.close();
    throw err;
  }
  const ephemeral = !o.writeKubeconfig && !!o.ephemeralKubeconfig;
  const kubeconfigPath = resolve(o.writeKubeconfig ?? join(stateDir, ephemeral ? `kubeconfig-${process.pid}-${proxy.port}` : "kubeconfig"));
  writeClientKubeconfig(kubeconfigPath, { contextName: upstream.contextName, namespace: upstream.namespace, proxyUrl: proxy.url, caPem: local.ca.certPem, token });
  const startedAt = new Date().toISOString();
  const unpublish = publishRunStatus(runStatusFile(stateDir, process.pid, proxy.port), () => ({
    pid: process.pid,
    startedAt,
    url: proxy.url,
    context: upstream.contextName,
    server: upstream.server.origin,
    db: dbPath,
    kubeconfig: kubeconfigPath,
    stats: recorder.stats(),
  }));
  let stopping: Promise<RecorderStats> | null = null;
  return {
    upstream,
    proxy,
    recorder,
    dbPath,
    kubeconfigPath,
    client: { url: new URL(proxy.url), caPem: local.ca.certPem, token },
    stateDir,
    extras: extras!, // fault:
    stop: (graceMs = 1000) =>
      (stopping ??= (async () => {
        await proxy.close(graceMs);
        await extras!.close(); // fault:
        unpublish();
        if (ephemeral) rmSync(kubeconfigPath, { force: true });
        if (!ownRecorder) {
          await recorder.flush();
          return recorder.stats();
        }
        return recorder.close();
      })()),
  };
}

export function describeStats(s: RecorderStats): string {
  const extra = [s.spilled ? `${s.spilled} spilled to the side file (loaded back on the next start)` : "", s.dropped ? `${s.dropped} DROPPED` : ""].filter(Boolean);
  return `kubewire: recorded ${s.written} exchange${s.written === 1 ? "" : "s"}${extra.length ? `, ${extra.join(", ")}` : ""}`;
}
