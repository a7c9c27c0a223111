// The store engines a store test runs against: SQLite always, PostgreSQL when the server's binaries are
// installed (one throw-away server per test file, a new database per store; see postgres.ts).
import { join } from "node:path";
import { parseDbSpec } from "../../src/store/db-spec.js";
import { havePostgres, startPostgres, type PgServer } from "./postgres.js";

export type Engine = "sqlite" | "postgres";
export const ENGINES: Engine[] = havePostgres ? ["sqlite", "postgres"] : ["sqlite"];

let server: Promise<PgServer> | null = null;
let n = 0;

/** A spec (file path or masked postgres:// URL) where a new, empty recording can be opened. */
export async function freshSpec(engine: Engine, dir: string): Promise<string> {
  if (engine === "sqlite") return join(dir, `rec-${++n}.db`);
  return parseDbSpec(await postgresUrl()).url;
}

/** A new database's URL, password included (as a user would type it). */
export async function postgresUrl(): Promise<string> {
  server ??= startPostgres();
  return (await server).newDatabase();
}

export async function postgresServer(): Promise<PgServer> {
  server ??= startPostgres();
  return server;
}

/** Stops this file's server, if it started one (call in afterAll). */
export async function stopEngines(): Promise<void> {
  const s = server;
  server = null;
  if (s) (await s).stop();
}
