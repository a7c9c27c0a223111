#!/usr/bin/env node
// Issue 14's shared-store figures, PostgreSQL against SQLite on this machine:
//  1. forwarding throughput while recording: small GETs (hey -c 8) through `kubewire start --db FILE` and
//     `kubewire start --db postgres://…`, alternating in each round; the ratio of medians (target >= 0.9);
//  2. `ls --status 403 --since 1h` and `flags` over N generated exchanges (default 1,000,000) in each engine,
//     each a new CLI process as a user runs it, median of R runs (target: PostgreSQL within 2x).
// It starts its own throw-away PostgreSQL 15 (Debian's; as the postgres user when run as root), default settings.
// Usage: npm run build && node scripts/bench-postgres.mjs [--seconds 4] [--rounds 5] [--count 1000000] [--runs 3] [--skip load|queries] [--h2]
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import pg from "pg";
import { Store } from "../dist/store/store.js";
import { freePort, median, parseHey, run, spawnReady, stopProcess, sleep } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : process.argv[i + 1];
};
const SECONDS = Number(arg("seconds", 4));
const ROUNDS = Number(arg("rounds", 5));
const COUNT = Number(arg("count", 1_000_000));
const RUNS = Number(arg("runs", 3));
/** --h2: the clients speak HTTP/2 to kubewire (as kubectl and client-go do); default HTTP/1.1 */
const WIRE = process.argv.includes("--h2") ? ["-h2"] : [];
const SKIP = new Set(String(arg("skip", "")).split(","));
const BIN = "/usr/lib/postgresql/15/bin";
const log = (line) => process.stderr.write(`bench: ${line}\n`);

const tmp = mkdtempSync(join(tmpdir(), "kubewire-bench-pg-"));
const asPostgres = (args) => {
  const root = process.getuid?.() === 0;
  execFileSync(root ? "runuser" : args[0], root ? ["-u", "postgres", "--", ...args] : args.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
};
const procs = [];
let pgData = null;
try {
  // ------------------------------------------------------------ a PostgreSQL server, default settings
  const pgDir = mkdtempSync(join(tmpdir(), "kubewire-bench-pgdata-")); // its own folder: the postgres user cannot enter tmp
  if (process.getuid?.() === 0) {
    const id = (f) => Number(execFileSync("id", [f, "postgres"]).toString());
    chownSync(pgDir, id("-u"), id("-g"));
  }
  asPostgres([join(BIN, "initdb"), "-D", join(pgDir, "data"), "-A", "trust", "-U", "kw", "-E", "UTF8"]);
  const port = await freePort();
  asPostgres([join(BIN, "pg_ctl"), "-D", join(pgDir, "data"), "-l", join(pgDir, "log"), "-w", "-o", `-p ${port} -k ${pgDir} -c listen_addresses=127.0.0.1`, "start"]);
  pgData = join(pgDir, "data");
  const admin = new pg.Client({ connectionString: `postgres://kw@127.0.0.1:${port}/postgres` });
  await admin.connect();
  const database = async (name) => {
    await admin.query(`CREATE DATABASE ${name}`);
    return `postgres://kw@127.0.0.1:${port}/${name}`;
  };
  const version = (await admin.query("SHOW server_version")).rows[0].server_version;
  log(`PostgreSQL ${version} on 127.0.0.1:${port} (initdb defaults: fsync on, synchronous_commit on, shared_buffers 128MB)`);

  // ------------------------------------------------------------ 1. forwarding throughput while recording
  if (!SKIP.has("load")) {
    const demoKc = join(tmp, "demo.kubeconfig");
    const { proc: clusterProc } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
    procs.push(clusterProc);
    const variants = [];
    for (const [name, db] of [["SQLite", join(tmp, "load.db")], ["PostgreSQL", await database("load")]]) {
      const kc = join(tmp, `${variants.length}.kubeconfig`);
      const { proc, info: url } = await spawnReady(
        process.execPath,
        [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0", "--db", db, "--state-dir", join(tmp, `state-${variants.length}`), "--write-kubeconfig", kc],
        (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null,
        { label: name },
      );
      procs.push(proc);
      variants.push({ name, db, proc, url: `${url}/api/v1/namespaces/default/pods/web-1`, token: parseYaml(readFileSync(kc, "utf8")).users[0].user.token, rps: [], sent: 0 });
    }
    for (const v of variants) v.sent += parseHey((await run("hey", [...WIRE, "-z", "1s", "-c", "4", "-H", `Authorization: Bearer ${v.token}`, v.url])).stdout).responses; // warm up
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of r % 2 ? [...variants].reverse() : variants) {
        const { stdout } = await run("hey", [...WIRE, "-z", `${SECONDS}s`, "-c", "8", "-H", `Authorization: Bearer ${v.token}`, v.url]);
        const h = parseHey(stdout);
        v.rps.push(h.rps);
        v.sent += h.responses;
      }
      log(`round ${r + 1}/${ROUNDS}: ${variants.map((v) => `${v.name} ${v.rps.at(-1).toFixed(0)} req/s`).join(", ")}`);
    }
    await sleep(1000);
    for (const v of variants) {
      const store = Store.open(v.db, { readonly: true });
      v.recorded = store.count();
      store.close();
    }
    const base = median(variants[0].rps);
    console.log(`\n| recording into | req/s (median of ${ROUNDS} × ${SECONDS} s, hey -c 8) | vs SQLite | answered | recorded |`);
    console.log("|---|---:|---:|---:|---:|");
    for (const v of variants) console.log(`| ${v.name} | ${median(v.rps).toFixed(0)} | ${(median(v.rps) / base).toFixed(2)}× | ${v.sent} | ${v.recorded} |`);
    for (const p of procs.splice(0)) await stopProcess(p);
  }

  // ------------------------------------------------------------ 2. queries over COUNT exchanges
  if (!SKIP.has("queries")) {
    const file = join(tmp, "queries.db");
    const url = await database("queries");
    for (const target of [file, url]) {
      log(`generating ${COUNT} exchanges into ${target}`);
      execFileSync(process.execPath, [join(ROOT, "scripts/gen-recording.mjs"), target, String(COUNT)], { stdio: ["ignore", "inherit", "inherit"] });
    }
    const q = new pg.Client({ connectionString: url });
    await q.connect();
    await q.query("VACUUM ANALYZE"); // what autovacuum does soon after a bulk load: statistics and the visibility map
    await q.end();
    // flags saves the whole-set flags it computes on its first run over a recording: one untimed run each
    for (const db of [file, url]) runCli(["flags", "--db", db]);
    const cmds = [["ls --status 403 --since 1h", ["ls", "--status", "403", "--since", "1h"]], ["flags", ["flags"]]];
    console.log(`\n| over ${COUNT.toLocaleString("en")} exchanges | SQLite (ms) | PostgreSQL (ms) | PostgreSQL / SQLite |`);
    console.log("|---|---:|---:|---:|");
    for (const [name, args] of cmds) {
      const t = { sqlite: [], pg: [] };
      for (let r = 0; r < RUNS; r++) {
        t.sqlite.push(runCli([...args, "--db", file]));
        t.pg.push(runCli([...args, "--db", url]));
      }
      console.log(`| \`kubewire ${name}\` | ${median(t.sqlite).toFixed(0)} | ${median(t.pg).toFixed(0)} | ${(median(t.pg) / median(t.sqlite)).toFixed(2)}× |`);
    }
  }
  await admin.end();
} finally {
  for (const p of procs) await stopProcess(p).catch(() => undefined);
  if (pgData) {
    asPostgres([join(BIN, "pg_ctl"), "-D", pgData, "-m", "immediate", "-w", "stop"]);
    rmSync(dirname(pgData), { recursive: true, force: true });
  }
  rmSync(tmp, { recursive: true, force: true });
}

/** One CLI process, as a user runs it: wall time in ms (flags exits 1 when it finds problems). */
function runCli(args) {
  const t = performance.now();
  try {
    execFileSync(process.execPath, [join(ROOT, "bin/kubewire.js"), ...args], { stdio: "ignore", cwd: ROOT });
  } catch (err) {
    if (err.status !== 1) throw new Error(`kubewire ${args.join(" ")} failed (exit ${err.status})`);
  }
  return performance.now() - t;
}
