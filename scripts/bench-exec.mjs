#!/usr/bin/env node
// Times the second `kubewire exec -- kubectl get pods` against direct kubectl with the same warm
// discovery cache (issue 10: budget ≤ 2× the direct whole-process time), with hyperfine, the two
// commands alternating in one run; also counts the requests each exec recorded.
// Usage: node scripts/bench-exec.mjs [RUNS]   (build first: npx tsc -p tsconfig.json)
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const runs = Number(process.argv[2] ?? 20);
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "kubewire-bench-exec-"));
const kubeconfig = join(dir, "demo.kubeconfig");
const cluster = spawn(process.execPath, ["scripts/bench-cluster.mjs", kubeconfig, "1024"], { stdio: ["pipe", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  cluster.stdout.once("data", resolve);
  cluster.once("exit", () => reject(new Error("the cluster did not start")));
});
const env = { ...process.env, KUBEWIRE_HOME: join(dir, "state") };
const db = join(dir, "exec.db");
const direct = ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache-direct"), "get", "pods"];
const through = [process.execPath, "bin/kubewire.js", "exec", "-q", "--kubeconfig", kubeconfig, "--db", db, "--", "kubectl", "--cache-dir", join(dir, "cache-exec"), "get", "pods"];
const count = async () => JSON.parse((await run(process.execPath, ["bin/kubewire.js", "ls", "--db", db, "-o", "json"], { env })).stdout).length;
try {
  await run(direct[0], direct.slice(1), { env }); // warms the direct cache
  await run(through[0], through.slice(1), { env }); // the first exec: makes the local CA, warms the exec cache
  const afterFirst = await count();
  await run(through[0], through.slice(1), { env });
  const second = (await count()) - afterFirst;
  const json = join(dir, "hyperfine.json");
  const quote = (argv) => argv.map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a}'`)).join(" ");
  await run("hyperfine", ["-N", "-w", "3", "-r", String(runs), "--export-json", json, quote(direct), quote(through)], { env, maxBuffer: 16 << 20 });
  const [d, t] = JSON.parse(readFileSync(json, "utf8")).results;
  const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
  console.log(`requests recorded by the second exec: ${second} (the first recorded ${afterFirst})`);
  console.log(`direct kubectl get pods (warm cache): median ${ms(d.median)}, mean ${ms(d.mean)} ± ${ms(d.stddev)}`);
  console.log(`kubewire exec -- kubectl get pods (second run, warm cache): median ${ms(t.median)}, mean ${ms(t.mean)} ± ${ms(t.stddev)}`);
  console.log(`ratio (median): ×${(t.median / d.median).toFixed(2)} (budget ×2)`);
  // CPU time (user + system, kubewire and kubectl together) varies less than wall time on a busy machine
  const cpu = (r) => r.user + r.system;
  console.log(`CPU time: direct ${ms(cpu(d))}, through exec ${ms(cpu(t))}, ratio ×${(cpu(t) / cpu(d)).toFixed(2)}`);
} finally {
  cluster.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
