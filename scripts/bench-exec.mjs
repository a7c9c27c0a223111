#!/usr/bin/env node
// Times the second `kubewire exec -- kubectl get pods` against direct kubectl with the same warm
// discovery cache (issue 10: budget ≤ 2× the direct whole-process time). The variants run in turn,
// round after round, so a change in the machine's load falls on all of them alike; each run's wall
// time and CPU time (user + system, children included) come from bash's EPOCHREALTIME and `times`.
// Also counts the requests each exec recorded, and times `node -e 0`, the floor of any Node program, and a
// Node program that only spawns direct kubectl and waits for it, the floor of any wrapper written for Node.
// Usage: node scripts/bench-exec.mjs [RUNS] [--before CHECKOUT]... [--no-extra-ca]   (build first: npm run build)
//   --no-extra-ca: every variant runs without NODE_EXTRA_CA_CERTS (set on these machines: Node reads that
//   bundle of ~140 certificates as it starts, about 35 ms of every Node process; kubectl does not read it)
//   --before: also time CHECKOUT's bin/kubewire.js (another built checkout, e.g. `git archive main | tar -x`
//   into a folder, node_modules linked, `npm run build` run: built with tsc alone it runs the slower unbundled
//   dist/cli); repeatable, to see what each step of a change bought
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const args = process.argv.slice(2);
const noExtraCa = args.includes("--no-extra-ca");
if (noExtraCa) args.splice(args.indexOf("--no-extra-ca"), 1);
const before = [];
for (let at; (at = args.indexOf("--before")) >= 0; ) before.push(resolve(args.splice(at, 2)[1]));
const runs = Number(args[0] ?? 20);
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "kubewire-bench-exec-"));
const kubeconfig = join(dir, "demo.kubeconfig");
const cluster = spawn(process.execPath, ["scripts/bench-cluster.mjs", kubeconfig, "1024"], { stdio: ["pipe", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  cluster.stdout.once("data", resolve);
  cluster.once("exit", () => reject(new Error("the cluster did not start")));
});
const env = { ...process.env, KUBEWIRE_HOME: join(dir, "state") };
if (noExtraCa) delete env.NODE_EXTRA_CA_CERTS;
const db = join(dir, "exec.db");
const direct = ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache-direct"), "get", "pods"];
const SPAWN_ONLY = 'require("node:child_process").spawn(process.argv[1], process.argv.slice(2), { stdio: "inherit" }).on("exit", (c) => process.exit(c ?? 1))';
// another build records into its own file: its schema may be older than this build's
const exec = (bin, quiet = true, into = db) => [
  process.execPath, bin, "exec", ...(quiet ? ["-q"] : []), "--kubeconfig", kubeconfig, "--db", into, "--", "kubectl", "--cache-dir", join(dir, "cache-exec"), "get", "pods",
];
const variants = [
  { name: "direct kubectl get pods (warm cache)", argv: direct },
  { name: "kubewire exec -q -- kubectl get pods (second run, warm cache)", argv: exec("bin/kubewire.js") },
  { name: "kubewire exec -- kubectl get pods (the same, with the verdict)", argv: exec("bin/kubewire.js", false) },
  ...before.map((b, i) => ({ name: `${b}: kubewire exec -q -- kubectl get pods`, argv: exec(join(b, "bin/kubewire.js"), true, join(dir, `before-${i}.db`)) })),
  { name: "node -e 0 (Node's own start-up and exit)", argv: [process.execPath, "-e", "0"] },
  // the floor of any wrapper written for Node: start, spawn the command, wait for it, exit with its code
  { name: "Node spawning direct kubectl and waiting (no proxy)", argv: [process.execPath, "-e", SPAWN_ONLY, ...direct] },
];
const count = async () => JSON.parse((await run(process.execPath, ["bin/kubewire.js", "ls", "--db", db, "-o", "json"], { env })).stdout).length;

/** One run: [wall ms, CPU ms of the command and its children]; its output is discarded. */
async function timed(argv) {
  const script = 's=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || echo "failed: $?" >&2; e=$EPOCHREALTIME; echo "$s $e"; times';
  const { stdout, stderr } = await run("bash", ["-c", script, "bash", ...argv], { env });
  if (stderr) throw new Error(`${argv.join(" ")}: ${stderr.trim()}`);
  const [times, , children] = stdout.trim().split("\n");
  const [s, e] = times.split(" ").map(Number);
  const secs = (line) => line.split(" ").reduce((sum, v) => {
    const [, m, sec] = /^(\d+)m([\d.]+)s$/.exec(v);
    return sum + Number(m) * 60 + Number(sec);
  }, 0);
  return [(e - s) * 1000, secs(children) * 1000];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  await run(direct[0], direct.slice(1), { env }); // warms the direct cache
  await run(variants[1].argv[0], variants[1].argv.slice(1), { env }); // the first exec: makes the local CA, warms the exec cache
  const afterFirst = await count();
  await run(variants[1].argv[0], variants[1].argv.slice(1), { env });
  const second = (await count()) - afterFirst;
  for (const v of variants) v.wall = [], v.cpu = [];
  for (let round = -2; round < runs; round++) { // two rounds of warm-up
    for (const v of variants) {
      const [wall, cpu] = await timed(v.argv);
      if (round >= 0) v.wall.push(wall), v.cpu.push(cpu);
    }
  }
  const [d] = variants;
  const ms = (x) => `${x.toFixed(0)} ms`;
  console.log(`requests recorded by the second exec: ${second} (the first recorded ${afterFirst}); ${runs} rounds, medians${noExtraCa ? "; NODE_EXTRA_CA_CERTS unset" : ""}`);
  for (const v of variants) {
    const w = median(v.wall);
    const c = median(v.cpu);
    console.log(`${v.name}: wall ${ms(w)} (×${(w / median(d.wall)).toFixed(2)}), CPU ${ms(c)} (×${(c / median(d.cpu)).toFixed(2)})`);
  }
} finally {
  cluster.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
