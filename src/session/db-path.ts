// Where a recording lives by default: --db, else $KUBEWIRE_DB, else the state directory's kubewire.db.
// A postgres:// URL is kept as a URL (password masked, see store/db-spec.ts); any other URL-like value is refused.
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UserError } from "../errors.js";
import { parseDbSpec } from "../store/db-spec.js";

/**
 * The recording's path, or its postgres:// URL with the password masked; a --db or $KUBEWIRE_DB whose folder
 * does not exist is refused (never created on the user's behalf), as is a URL of a scheme kubewire does not know.
 */
export function defaultDbPath(stateDir: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = explicit || env.KUBEWIRE_DB;
  if (!given) return resolve(join(stateDir, "kubewire.db"));
  const from = explicit ? "--db" : "$KUBEWIRE_DB";
  const spec = parseDbSpec(given, from);
  if (spec.kind === "postgres") return spec.url;
  const path = resolve(given);
  const dir = dirname(path);
  if (!existsSync(dir)) throw new UserError(`${from} ${given}: folder ${dir} does not exist`, `create it first (mkdir -p ${dir}) or pick another path`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${from} ${given}: ${dir} is not a folder`);
  return path;
}
