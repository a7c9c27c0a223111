#!/usr/bin/env node
// scripts/bench helper: runs the simulated cluster (dist/demo) in its own process, so the
// load generator, the proxies and the API server each have their own event loop.
// Usage: node scripts/bench-cluster.mjs KUBECONFIG_OUT [BIG_LIST_BYTES]
// Prints one JSON line {url, token, pid} when ready; exits on SIGTERM/SIGINT or when stdin closes.
import { startDemoCluster } from "../dist/demo/cluster.js";
import { writeDemoKubeconfig } from "../dist/demo/kubeconfig.js";

const [kubeconfig, bigBytes] = process.argv.slice(2);
if (!kubeconfig) {
  process.stderr.write("usage: bench-cluster.mjs KUBECONFIG_OUT [BIG_LIST_BYTES]\n");
  process.exit(2);
}
const cluster = await startDemoCluster({ host: "127.0.0.1", bigListBytes: Number(bigBytes || 200 * 1024 * 1024) });
writeDemoKubeconfig(cluster, kubeconfig);
process.stdout.write(JSON.stringify({ url: cluster.url, token: cluster.users.admin.token, pid: process.pid }) + "\n");

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.race([cluster.close(), new Promise((r) => setTimeout(r, 2000))]);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
