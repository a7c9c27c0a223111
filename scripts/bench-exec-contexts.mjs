#!/usr/bin/env node
// The whole kubeconfig through `kubewire exec`: how many requests the first `exec -- kubectl
// --context demo-viewer get pods` sends after `exec -- kubectl get pods` (demo-admin, the same cluster)
// warmed kubectl's cache, and the second exec's time against direct kubectl (hyperfine, alternating),
// for this build and optionally another (e.g. an older commit's `git archive` with `npx tsc` run in it).
// Usage: node scripts/bench-exec-contexts.mjs [RUNS] [OTHER_BUILD_ROOT]   (build first: npx tsc -p tsconfig.json)
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const runs = Number(process.argv[2] ?? 10);
const builds = [["this build", process.cwd()], ...(process.argv[3] ? [["other build", resolve(process.argv[3])]] : [])];
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "kubewire-bench-contexts-"));
const kubeconfig = join(dir, "demo.kubeconfig");
const cluster = spawn(process.execPath, ["scripts/bench-cluster.mjs", kubeconfig, "1024"], { stdio: ["pipe", "pipe", "inherit"] });
await new Promise((done, fail) => {
  cluster.stdout.once("data", done);
  cluster.once("exit", () => fail(new Error("the cluster did not start")));
});
const env = { ...process.env, KUBEWIRE_HOME: join(dir, "state") };
const direct = ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", join(dir, "cache-direct"), "get", "pods"];
const exec = (root, i, ...flags) => [process.execPath, join(root, "bin/kubewire.js"), "exec", "-q", "--kubeconfig", kubeconfig, "--db", join(dir, `exec-${i}.db`), "--", "kubectl", "--cache-dir", join(dir, `cache-${i}`), ...flags, "get", "pods"];
const count = async (i) => JSON.parse((await run(process.execPath, ["bin/kubewire.js", "ls", "--db", join(dir, `exec-${i}.db`), "-o", "json"], { env })).stdout).length;
const go = (argv) => run(argv[0], argv.slice(1), { env }).catch(() => undefined);
try {
  await go(direct);
  for (const [i, [name, root]] of builds.entries()) {
    await go(exec(root, i));
    await go(exec(root, i));
    const before = await count(i);
    await go(exec(root, i, "--context", "demo-viewer"));
    console.log(`${name}: the first exec with --context demo-viewer after two with demo-admin recorded ${(await count(i)) - before} requests`);
  }
  const json = join(dir, "hyperfine.json");
  const quote = (argv) => argv.map((a) => (/^[\w./:=-]+$/.test(a) ? a : `'${a}'`)).join(" ");
  const commands = [["direct kubectl get pods", direct], ...builds.map(([name, root], i) => [`${name}: exec -- kubectl get pods`, exec(root, i)])];
  await run("hyperfine", ["-N", "-i", "-w", "2", "-r", String(runs), "--export-json", json, ...commands.map(([, argv]) => quote(argv))], { env, maxBuffer: 16 << 20 });
  const results = JSON.parse(readFileSync(json, "utf8")).results;
  const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
  results.forEach((r, i) => console.log(`${commands[i][0]} (warm cache): median ${ms(r.median)}, mean ${ms(r.mean)} ± ${ms(r.stddev)}, ×${(r.median / results[0].median).toFixed(2)} direct`));
} finally {
  cluster.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
