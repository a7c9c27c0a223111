// Benchmark of faults and metrics (issue 13). Run by hand, not in CI: `node scripts/bench-faults.mjs [--seconds N] [--rounds N] [--scrape-only]`.
// 1. small GETs (hey, 8 connections) through kubewire recording: no rules, vs 100 non-matching fault rules
//    with --metrics on, the variants alternating in one run (ratios are what to read: 2 shared cores).
// 2. the time of a /metrics scrape after 1,000,000 requests fed to the registry directly.
// Needs `hey` (apt-get install hey) and a build (npx tsc -p tsconfig.json). Loopback only.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg("seconds", 4);
const ROUNDS = arg("rounds", 3);
const D = new URL("../dist/", import.meta.url).pathname;
const { startDemoCluster } = await import(`${D}demo/cluster.js`);
const { writeDemoKubeconfig } = await import(`${D}demo/kubeconfig.js`);
const { startSession } = await import(`${D}session/recording-session.js`);
const { ruleFromInline } = await import(`${D}fault/rules.js`);
const { KubewireMetrics } = await import(`${D}metrics/registry.js`);

function hey(url, token) {
  return new Promise((resolve, reject) => {
    execFile("hey", ["-z", `${SECONDS}s`, "-c", "8", "-H", `Authorization: Bearer ${token}`, url], { maxBuffer: 1 << 24 }, (err, out) => {
      if (err) return reject(err);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      resolve(rps ? Number(rps[1]) : 0);
    });
  });
}

const SCRAPE_ONLY = process.argv.includes("--scrape-only");
const dir = mkdtempSync(join(tmpdir(), "bench-faults-"));
const cluster = await startDemoCluster({});
const kubeconfig = join(dir, "demo.kubeconfig");
writeDemoKubeconfig(cluster, kubeconfig);
// 100 rules that never match a GET of a pod: other verbs, resources and namespaces
const rules = Array.from({ length: 100 }, (_, i) => ruleFromInline(`rule=r${i},verb=${["list", "watch", "create", "delete"][i % 4]},resource=res${i},namespace=ns${i},status=503`, i + 1));
const variants = {};
for (const [name, extras] of [
  ["no rules", {}],
  ["100 rules + metrics", { rules, metrics: { host: "127.0.0.1", port: 0 } }],
]) {
  const s = await startSession({ kubeconfig, context: "demo-admin", listen: { host: "127.0.0.1", port: 0 }, stateDir: join(dir, "state"), db: join(dir, `${name.replace(/\W+/g, "-")}.db`), writeKubeconfig: join(dir, `${name.replace(/\W+/g, "-")}.kubeconfig`), warn: () => undefined, extras });
  const token = parse(readFileSync(s.kubeconfigPath, "utf8")).users[0].user.token;
  variants[name] = { s, url: `${s.proxy.url}/api/v1/namespaces/default/pods/web-1`, token, rps: [] };
}
for (let r = 0; r < (SCRAPE_ONLY ? 0 : ROUNDS); r++) {
  for (const v of Object.values(variants)) v.rps.push(await hey(v.url, v.token));
  process.stderr.write(`round ${r + 1}/${ROUNDS}: ${Object.entries(variants).map(([n, v]) => `${n} ${v.rps.at(-1).toFixed(0)} req/s`).join(", ")}\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(variants["no rules"].rps) || 1;
console.log(`| variant | req/s (median of ${ROUNDS} × ${SECONDS} s, hey -c 8) | vs no rules |`);
console.log("|---|---|---|");
if (!SCRAPE_ONLY) for (const [n, v] of Object.entries(variants)) console.log(`| ${n} | ${median(v.rps).toFixed(0)} | ${(median(v.rps) / base).toFixed(2)}× |`);
for (const v of Object.values(variants)) await v.s.stop(100);
await cluster.close();
rmSync(dir, { recursive: true, force: true });

// 2. scrape time after 1,000,000 requests
const m = new KubewireMetrics({ stats: () => ({ queued: 0, dropped: 0 }) });
const resources = ["pods", "configmaps", "secrets", "deployments", "services", "events", "nodes", "leases", "endpoints", "namespaces"];
const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
const codes = [200, 201, 404, 409, 429, 500];
const clients = ["kubectl/v1.32.0", "my-controller/v0.1", "node-fetch/1.0"];
const ex = {
  startedAt: 0, origin: "proxy", client: { address: "", userAgent: "" }, context: "c", clusterUrl: "", kubeUser: "",
  request: { method: "GET", path: "/", query: "", headers: {}, body: null, bytes: 0 },
  info: { isResourceRequest: true, verb: "", apiPrefix: "api", apiGroup: "", apiVersion: "v1", namespace: "default", resource: "", subresource: "", name: "" },
  response: { status: 200, headers: {}, body: null, bytes: 0 },
  timing: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 3, totalMs: 4, reusedConnection: true },
  tls: null, error: null, stream: null,
};
const t0 = performance.now();
for (let i = 0; i < 1_000_000; i++) {
  ex.info.resource = resources[i % resources.length];
  ex.info.verb = verbs[i % verbs.length];
  ex.response.status = codes[i % codes.length];
  ex.client.userAgent = clients[i % clients.length];
  ex.timing.totalMs = (i % 5000) / 10;
  m.observe(ex);
}
const feedMs = performance.now() - t0;
const times = [];
let size = 0;
for (let i = 0; i < 5; i++) {
  const s = performance.now();
  size = (await m.text()).length;
  times.push(performance.now() - s);
}
console.log(`\nfeeding 1,000,000 exchanges: ${(feedMs / 1000).toFixed(2)} s (${((feedMs * 1000) / 1_000_000).toFixed(2)} µs each)`);
console.log(`scrape of /metrics after 1,000,000 requests: median ${median(times).toFixed(1)} ms over 5 (${(size / 1024).toFixed(0)} KiB of text)`);
