#!/usr/bin/env node
// Times `kubewire doctor` on a sound kubeconfig (issue 5: "passes all seven steps in under 3 s"):
// the simulated cluster in its own process, the doctor as a whole CLI process, median of N runs.
// Usage: node scripts/bench-doctor.mjs [RUNS]   (build first: npx tsc -p tsconfig.json)
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const runs = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "kubewire-bench-doctor-"));
const kubeconfig = join(dir, "demo.kubeconfig");
const cluster = spawn(process.execPath, ["scripts/bench-cluster.mjs", kubeconfig, "1024"], { stdio: ["pipe", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  cluster.stdout.once("data", resolve);
  cluster.once("exit", () => reject(new Error("the cluster did not start")));
});
const run = promisify(execFile);
const args = ["bin/kubewire.js", "doctor", "--kubeconfig", kubeconfig, "--state-dir", join(dir, "state"), "--db", join(dir, "doctor.db"), "-o", "json"];
await run(process.execPath, args); // first run makes the local CA, as a user's first start does
const times = [];
let steps = "";
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, args);
  times.push(performance.now() - t0);
  const report = JSON.parse(stdout);
  steps = report.steps.map((s) => `${s.step}:${s.status}`).join(" ");
}
times.sort((a, b) => a - b);
console.log(`kubewire doctor (sound kubeconfig), ${runs} runs: median ${Math.round(times[Math.floor(runs / 2)])} ms, min ${Math.round(times[0])} ms, max ${Math.round(times.at(-1))} ms; steps ${steps}`);
cluster.stdin.end();
cluster.kill("SIGTERM");
rmSync(dir, { recursive: true, force: true });
