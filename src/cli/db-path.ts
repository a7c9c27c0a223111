// Where a recording lives by default: --db, else $KUBEWIRE_DB, else the state directory's kubewire.db.
import { join, resolve } from "node:path";

export function defaultDbPath(stateDir: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit || env.KUBEWIRE_DB || join(stateDir, "kubewire.db"));
}
