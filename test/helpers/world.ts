// Test harness: a demo cluster with its kubeconfig in a temporary folder, recording
// sessions in front of it, and real kubectl / kubewire processes driven like a user would.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startDemoCluster, type DemoCluster } from "../../src/demo/cluster.js";
import { writeDemoKubeconfig } from "../../src/demo/kubeconfig.js";
import { startSession, type RecordingSession } from "../../src/session/recording-session.js";
import { Store, type ExchangeRow } from "../../src/store/store.js";
import type { Exchange } from "../../src/types.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const KUBECTL = process.env.KUBECTL ?? "/usr/bin/kubectl";

export interface World {
  cluster: DemoCluster;
  dir: string;
  /** the demo kubeconfig: contexts demo-admin, demo-viewer, demo-expired-cert, ... */
  kubeconfig: string;
  close(): Promise<void>;
}

export async function demoWorld(opts: Parameters<typeof startDemoCluster>[0] = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "kubewire-test-"));
  const cluster = await startDemoCluster(opts);
  const kubeconfig = join(dir, "demo.kubeconfig");
  writeDemoKubeconfig(cluster, kubeconfig);
  return {
    cluster,
    dir,
    kubeconfig,
    close: async () => {
      await cluster.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function record(world: World, context = "demo-admin", extra: Partial<Parameters<typeof startSession>[0]> = {}): Promise<RecordingSession> {
  const warnings: string[] = [];
  return startSession({
    kubeconfig: world.kubeconfig,
    context,
    listen: { host: "127.0.0.1", port: 0 },
    stateDir: join(world.dir, "state"),
    db: join(world.dir, `${context}.db`),
    writeKubeconfig: join(world.dir, `${context}.proxy.kubeconfig`),
    warn: (l) => warnings.push(l),
    ...extra,
  });
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, NO_COLOR: "1", ...opts.env }, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd ?? ROOT },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** kubectl with its own discovery cache folder, so tests do not share caches. */
export function kubectl(kubeconfig: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cacheDir?: string } = {}): Promise<Run> {
  const cache = opts.cacheDir ?? `${kubeconfig}.cache`;
  return run(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", cache, ...args], opts);
}

/** The built CLI, as `npx kubewire` runs it. */
export function kubewire(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return run(process.execPath, [join(ROOT, "bin/kubewire.js"), ...args], opts);
}

export function cleanDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Everything a session recorded so far, oldest first: the `ls` row and the full exchange. */
export async function recorded(session: RecordingSession): Promise<Array<{ row: ExchangeRow; ex: Exchange }>> {
  await session.recorder.flush();
  const store = Store.open(session.dbPath, { readonly: true });
  try {
    return store.list({}).map((row) => ({ row, ex: store.get(row.id)! }));
  } finally {
    store.close();
  }
}

/** Polls `check` until it returns a value (not undefined) or `ms` pass; for things that happen just after a close. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`still not there after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
