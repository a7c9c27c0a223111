// What a running proxy tells `kubewire status`: a small JSON file per run in the state
// directory (URL, context, database, record counts), refreshed every second, removed on stop.
import { rmSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { RecorderStats } from "../record/recorder.js";
import type { ExchangeSource } from "../types.js";
import { liveRunFiles } from "../tls/state-dir.js";

export interface RunStatus {
  pid: number;
  startedAt: string;
  /** the run's id, as its exchanges' source names it (ls --source run=ID) */
  run: string;
  /** where the run records from: host and run, and pod and namespace in-cluster */
  source: ExchangeSource;
  url: string;
  context: string;
  server: string;
  db: string;
  kubeconfig: string;
  stats: RecorderStats;
  updatedAt: string;
}

const PREFIX = "run-";

export function runStatusFile(stateDir: string, pid: number, port: number): string {
  return join(stateDir, `${PREFIX}${pid}-${port}.json`);
}

/** Publishes the status now and every second until the returned stop function is called. */
export function publishRunStatus(file: string, read: () => Omit<RunStatus, "updatedAt">): () => void {
  const write = () => {
    try {
      const tmp = `${file}.tmp`;
      writeFileSync(tmp, JSON.stringify({ ...read(), updatedAt: new Date().toISOString() }), { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      /* the state dir went away: status is best effort, recording is not affected */
    }
  };
  write();
  const timer = setInterval(write, 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    rmSync(file, { force: true });
  };
}


/** Every run whose process is still alive; files of dead runs are removed. */
export function readRunStatuses(stateDir: string): RunStatus[] {
  return liveRunFiles<RunStatus>(stateDir, PREFIX).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
