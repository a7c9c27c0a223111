// Where a recording lives by default: --db, else $KUBEWIRE_DB, else the state directory's kubewire.db.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "../errors.js";

/** The recording's path; a --db or $KUBEWIRE_DB whose folder does not exist is refused (never created on the user's behalf). */
export function defaultDbPath(stateDir: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = explicit || env.KUBEWIRE_DB;
  if (!given) return resolve(join(stateDir, "kubewire.db"));
  const path = resolve(given);
  const dir = dirname(path);
  const from = explicit ? "--db" : "$KUBEWIRE_DB";
  if (!existsSync(dir)) throw new UserError(`${from} ${given}: folder ${dir} does not exist`, `create it first (mkdir -p ${dir}) or pick another path`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${from} ${given}: ${dir} is not a folder`);
  return path;
}
