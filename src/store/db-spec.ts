// What a --db names: a SQLite file path or a postgres:// URL. A URL's password is taken out at once and kept
// in this process only, so the spec that flows through messages, run-status files and records never holds it.
import { UserError } from "../errors.js";

const POSTGRES_SCHEMES = ["postgres", "postgresql"];
/** a scheme of two or more letters, then a colon: a URL (or a typo of one), never a file kubewire should create */
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;
const MASK = "***";

/** The password each masked spec stands for, set by parseDbSpec; never written anywhere. */
const passwords = new Map<string, string>();

export type DbSpec = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };

/** True for a spec that names a PostgreSQL database (as parseDbSpec returns it). */
export function isPostgresSpec(spec: string): boolean {
  const m = SCHEME.exec(spec);
  return m !== null && POSTGRES_SCHEMES.includes(m[1]!.toLowerCase());
}

/**
 * Classifies a --db value. A postgres:// or postgresql:// URL comes back with its password masked
 * (kubewire remembers it for connecting); anything else that looks like a URL is refused in one line.
 */
export function parseDbSpec(given: string, from = "--db"): DbSpec {
  const m = SCHEME.exec(given);
  if (!m) return { kind: "sqlite", path: given };
  const scheme = m[1]!.toLowerCase();
  if (!POSTGRES_SCHEMES.includes(scheme)) {
    throw new UserError(
      `${from} ${shownSpec(given)}: kubewire does not know the scheme "${m[1]}:"; it records into a SQLite file or a postgres:// URL`,
      `for a file whose name has a colon, write ./${given.split("/")[0]}`,
    );
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    url = null as unknown as URL;
  }
  if (!url || !given.slice(m[0].length).startsWith("//") || url.hostname === "" && !url.searchParams.has("host")) {
    throw new UserError(`${from} ${shownSpec(given)} is not a PostgreSQL URL`, "write it as postgres://USER@HOST:PORT/DATABASE (the password from PGPASSWORD or ~/.pgpass)");
  }
  if (url.password !== "") {
    const password = decodeURIComponent(url.password);
    url.password = MASK;
    if (password !== MASK) passwords.set(url.href, password); // a masked URL parsed again keeps what it stands for
  }
  return { kind: "postgres", url: url.href };
}

/** A spec as it may be shown: a URL's password (and any password= parameter) masked. */
export function shownSpec(spec: string): string {
  if (!SCHEME.test(spec)) return spec;
  try {
    const url = new URL(spec);
    if (url.password !== "" && url.password !== MASK) url.password = MASK;
    for (const key of [...url.searchParams.keys()]) if (/pass/i.test(key)) url.searchParams.set(key, MASK);
    return url.href.replace(encodeURIComponent(MASK), MASK);
  } catch {
    return spec.replace(/\/\/([^:/@]*):[^@/]*@/, `//$1:${MASK}@`);
  }
}

/**
 * The connection string for pg: the masked spec with its remembered password put back, or without a
 * password at all (pg then reads PGPASSWORD or ~/.pgpass, as libpq does).
 */
export function connectionString(spec: string): string {
  const url = new URL(spec);
  const password = passwords.get(spec) ?? passwords.get(url.href);
  url.password = "";
  if (password !== undefined) url.password = encodeURIComponent(password);
  return url.href;
}
