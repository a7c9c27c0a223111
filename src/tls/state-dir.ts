// The state directory (--state-dir, KUBEWIRE_HOME, ~/.kubewire): created 0700; an existing one of
// ours that others may read is tightened to 0700 (and said), one that others may write is refused.
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";

export function stateDirPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit || env.KUBEWIRE_HOME || join(env.HOME ?? homedir(), ".kubewire"));
}

/** notice: told in one line when a loose mode was tightened (default: stderr) */
export function ensureStateDir(dir: string, notice: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`cannot create state directory ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new UserError(`state directory ${dir} is not a directory`);
  if ((st.mode & 0o077) === 0) return dir;
  const mode = (st.mode & 0o777).toString(8);
  const ours = typeof process.getuid !== "function" || st.uid === process.getuid();
  // Writable by others: someone may already have replaced the CA key or the kubeconfig in it.
  if ((st.mode & 0o002) !== 0 || !ours) {
    const why = (st.mode & 0o002) !== 0 ? "writable by others" : "open to other users and not owned by you";
    throw new UserError(`state directory ${dir} is ${why} (mode ${mode}); refusing to keep the local CA key and tokens in it`, `run: chmod 700 ${dir}`);
  }
  chmodSync(dir, 0o700);
  notice(`kubewire: state directory ${dir} was open to other users (mode ${mode}): tightened to 700, as it holds the local CA key`);
  return dir;
}

/** Whether a process still runs (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The JSON files `PREFIX*.json` that running kubewire processes keep in the state directory (run status,
 * control endpoints), those of live processes only; the files of dead ones are removed.
 */
export function liveRunFiles<T extends { pid: number }>(stateDir: string, prefix: string): T[] {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((n) => n.startsWith(prefix) && n.endsWith(".json"));
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const name of names) {
    try {
      const file = JSON.parse(readFileSync(join(stateDir, name), "utf8")) as T;
      if (processAlive(file.pid)) out.push(file);
      else rmSync(join(stateDir, name), { force: true });
    } catch {
      /* half-written or foreign file: skip */
    }
  }
  return out;
}
