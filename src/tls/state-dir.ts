// The state directory (--state-dir, KUBEWIRE_HOME, ~/.kubewire): created 0700,
// refused when others may write to it.
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../errors.js";

export function stateDirPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit || env.KUBEWIRE_HOME || join(env.HOME ?? homedir(), ".kubewire"));
}

export function ensureStateDir(dir: string): string {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new UserError(`cannot create state directory ${dir}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new UserError(`state directory ${dir} is not a directory`);
  if ((st.mode & 0o022) !== 0) {
    if (typeof process.getuid === "function" && st.uid === process.getuid() && (st.mode & 0o002) === 0) {
      chmodSync(dir, 0o700); // our own group-writable dir: tighten it
    } else {
      throw new UserError(`state directory ${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)})`, `run: chmod 700 ${dir}`);
    }
  }
  return dir;
}
