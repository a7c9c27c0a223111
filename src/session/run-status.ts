// What a running proxy tells `kubewire status`: a small JSON file per run in the state
// directory (URL, context, database, record counts), refreshed every second, removed on stop.
import { writeFileSync, renameSync } from "node:fs";
import { rmQuiet } from "../remove-file.js";
import { rename, writeFile } from "node:fs/promises";
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

/**
 * Publishes the status now and every second until the returned stop function is called. The refreshes are
 * written off the main thread (a busy proxy forwards meanwhile); one finishing after stop removes its file.
 */
export function publishRunStatus(file: string, read: () => Omit<RunStatus, "updatedAt">): () => void {
  const tmp = `${file}.tmp`;
  const text = () => JSON.stringify({ ...read(), updatedAt: new Date().toISOString() });
  let stopped = false;
  let writing = false;
  const refresh = () => {
    if (writing) return; // the last refresh is still on its way: this one is skipped, not queued
    writing = true;
    writeFile(tmp, text(), { mode: 0o600 })
      .then(() => rename(tmp, file))
      .catch(() => undefined) // the state dir went away: status is best effort, recording is not affected
      .finally(() => {
        writing = false;
        if (stopped) rmQuiet(file);
      });
  };
  try {
    writeFileSync(tmp, text(), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* as above */
  }
  const timer = setInterval(refresh, 1000);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
    rmQuiet(file);
    rmQuiet(tmp); // a refresh cut short by exec's exit leaves its half (a refresh still running removes its own file)
  };
}


/** Every run whose process is still alive; files of dead runs are removed. */
export function readRunStatuses(stateDir: string): RunStatus[] {
  return liveRunFiles<RunStatus>(stateDir, PREFIX).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
