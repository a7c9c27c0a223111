#!/usr/bin/env node
// Times the query commands on a generated recording: each CLI command run as a user would (a new
// process, median of N runs: wall time, and its CPU time, user + system, from /usr/bin/time), and the same
// query inside one process (what the indexes cost).
// Usage: npm run build && node scripts/gen-recording.mjs /tmp/kw-bench.db && node scripts/bench-queries.mjs /tmp/kw-bench.db [runs]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { Store } from "../dist/store/store.js";
import { diagnose } from "../dist/cli/diagnose.js";

const db = process.argv[2] ?? "/tmp/kubewire-bench.db";
const runs = Number(process.argv[3] ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

// Writable once, so a recording from an older build gets its indexes (schema migrations).
Store.open(db, { create: false }).close();
const probe = Store.open(db, { readonly: true });
const total = probe.count();
const someId = probe.list({ status: 403, limit: 1 })[0]?.id ?? 1;
probe.close();

const cli = [
  ["ls --status 403 --since 1h", ["ls", "--status", "403", "--since", "1h"]],
  [`show ${someId}`, ["show", String(someId)]],
  ["flags", ["flags"]],
  ["stats", ["stats"]],
];
const inProcess = [
  ["ls --status 403 --since 1h", (s) => s.list({ status: 403, since: Date.now() - 3_600_000 })],
  [`show ${someId}`, (s) => s.get(someId)],
  // flags judges the proxy's and imported traffic only (flagsSteps.complete sets this filter): the same query here
  ["flags", (s) => diagnose(s, { origin: ["proxy", "import"] }, { now: Date.now(), credentials: new Map() })],
  ["stats", (s) => s.latencyGroups({}, [0.5, 0.9, 0.99, 1])], // what stats asks (its rows are a mapping of these groups)
];

const load0 = loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`${total} exchanges in ${db}; median of ${runs} runs\n`);
const timed = existsSync("/usr/bin/time");
/** One CLI run: wall ms, and CPU ms (user + system) when /usr/bin/time is there. */
function runCli(args) {
  const t = performance.now();
  const r = timed
    ? spawnSync("/usr/bin/time", ["-f", "%U %S", process.execPath, "bin/kubewire.js", ...args, "--db", db], { stdio: ["ignore", "ignore", "pipe"] })
    : spawnSync(process.execPath, ["bin/kubewire.js", ...args, "--db", db], { stdio: "ignore" });
  const wall = performance.now() - t;
  if (r.status !== 0 && r.status !== 1) throw new Error(`kubewire ${args.join(" ")} exited ${r.status}: ${r.stderr}`); // flags exits 1 when it finds errors
  const [user, sys] = timed ? String(r.stderr).trim().split("\n").at(-1).split(" ").map(Number) : [NaN, NaN];
  return { wall, cpu: (user + sys) * 1000 };
}

console.log("| command | CLI process (ms) | its CPU (ms) | query in process (ms) |\n|---|---:|---:|---:|");
for (let i = 0; i < cli.length; i++) {
  const [name, args] = cli[i];
  const wall = [];
  const cpu = [];
  for (let r = 0; r < runs; r++) {
    const one = runCli(args);
    wall.push(one.wall);
    cpu.push(one.cpu);
  }
  const store = Store.open(db, { readonly: true });
  inProcess[i][1](store); // warm the statement cache and the page cache, as a second CLI run has
  const q = [];
  for (let r = 0; r < runs; r++) q.push(time(() => inProcess[i][1](store)));
  store.close();
  console.log(`| \`kubewire ${name}\` | ${median(wall).toFixed(0)} | ${median(cpu).toFixed(0)} | ${median(q).toFixed(0)} |`);
}
const node = [];
for (let r = 0; r < runs; r++) node.push(time(() => execFileSync(process.execPath, ["-e", "0"])));
console.log(`\nbare \`node -e 0\`: ${median(node).toFixed(0)} ms; load average before and after: ${load0} / ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
