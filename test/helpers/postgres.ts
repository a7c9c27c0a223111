// A throw-away PostgreSQL server for one test file: initdb in a temporary folder (as the postgres user when the
// tests run as root: the server refuses root), started on a free loopback port, stopped and removed at the end.
// TCP connections need the password (scram-sha-256), so the tests prove kubewire passes credentials along.
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
export const havePostgres = existsSync(join(POSTGRES_BIN, "initdb")) && existsSync(join(POSTGRES_BIN, "pg_ctl"));
if (!havePostgres) {
  console.warn(`\n*** ${POSTGRES_BIN}/initdb is missing (apt-get install postgresql): the PostgreSQL store tests are SKIPPED ***\n`);
}

export const PG_USER = "kw";
export const PG_PASSWORD = "s3cret-Pw_for-kubewire";

export interface PgServer {
  host: string;
  port: number;
  /** a new, empty database; its URL with the password in it */
  newDatabase(): Promise<string>;
  /** the URL of a database without the password */
  bareUrl(db: string): string;
  /** stops the server, keeping its data (resume starts it again on the same port) */
  pause(): void;
  resume(): void;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function asPostgres(args: string[]): void {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const [cmd, rest] = root ? ["runuser", ["-u", "postgres", "--", ...args]] : [args[0]!, args.slice(1)];
  execFileSync(cmd, rest, { stdio: ["ignore", "ignore", "pipe"] });
}

let serial = 0;

export async function startPostgres(): Promise<PgServer> {
  const dir = mkdtempSync(join(tmpdir(), "kubewire-pg-"));
  const data = join(dir, "data");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, `${PG_PASSWORD}\n`);
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  asPostgres([join(POSTGRES_BIN, "initdb"), "-D", data, "-U", PG_USER, `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const start = () => asPostgres([
    join(POSTGRES_BIN, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-w",
    "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, "start",
  ]);
  start();
  const host = "127.0.0.1";
  const url = (db: string) => `postgres://${PG_USER}:${encodeURIComponent(PG_PASSWORD)}@${host}:${port}/${db}`;
  return {
    host,
    port,
    bareUrl: (db) => `postgres://${PG_USER}@${host}:${port}/${db}`,
    async newDatabase() {
      const name = `kw_${process.pid}_${++serial}`;
      const admin = new pg.Client({ connectionString: url("postgres") });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url(name);
    },
    pause() {
      asPostgres([join(POSTGRES_BIN, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
    },
    resume: start,
    stop() {
      try {
        asPostgres([join(POSTGRES_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
