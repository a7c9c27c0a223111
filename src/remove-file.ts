// Removing a file that may already be gone, at once: unlinkSync, where rmSync would first load Node's
// rimraf code (a few milliseconds of every `exec`'s exit, the first time a process calls it).
import { unlinkSync } from "node:fs";

export function rmQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
