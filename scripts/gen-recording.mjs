#!/usr/bin/env node
// Generates a realistic recording for the query benchmarks: N exchanges (default 1,000,000) spread
// over the last 7 days, two contexts, kubectl and a controller, with the usual mix of failures; recorded
// by `sources` runs (default 1), one after the other, on two hosts.
// Usage: npx tsc -p tsconfig.json && node scripts/gen-recording.mjs /tmp/kw-bench.db [count] [sources]
// (a postgres:// URL instead of the file writes into that database, which should hold no recording yet)
import { existsSync, rmSync } from "node:fs";
import { parseDbSpec } from "../dist/store/db-spec.js";
import { Store } from "../dist/store/store.js";
import { flagsOf } from "../dist/analyze/lib/engine.js";

const given = process.argv[2] ?? "/tmp/kubewire-bench.db";
const spec = parseDbSpec(given);
const path = spec.kind === "postgres" ? spec.url : spec.path;
const total = Number(process.argv[3] ?? 1_000_000);
const sources = Number(process.argv[4] ?? 1);
const BATCH = 20_000;
const SPAN_MS = 7 * 86_400_000;
const now = Date.now();

if (spec.kind === "sqlite") for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) rmSync(path + suffix);

// A deterministic PRNG, so every run makes the same recording.
let seed = 42;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
const pick = (items) => {
  let r = rand() * items.reduce((s, [, w]) => s + w, 0);
  for (const [v, w] of items) if ((r -= w) < 0) return v;
  return items[items.length - 1][0];
};
const lognormal = (median, sigma) => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand()));

const cert = (subject, issuer, days, san = []) => ({
  subject, issuer, san, notBefore: new Date(now - 300 * 86_400_000).toISOString(), notAfter: new Date(now + days * 86_400_000).toISOString(),
  serial: Math.floor(rand() * 1e12).toString(16), sha256: Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(rand() * 16)]).join(""),
});
const CONTEXTS = [
  { name: "prod-eu", url: "https://10.0.0.1:6443", user: "ci-deployer", chain: [cert("CN=kube-apiserver", "CN=kubernetes", 200, ["DNS:kubernetes", "IP:10.0.0.1"]), cert("CN=kubernetes", "CN=kubernetes", 3000)] },
  { name: "staging", url: "https://staging.example.com:6443", user: "dev", chain: [cert("CN=kube-apiserver", "CN=staging-ca", 90, ["DNS:staging.example.com"]), cert("CN=staging-ca", "CN=staging-ca", 3000)] },
];
const RESOURCES = [
  [["", "pods"], 30], [["apps", "deployments"], 12], [["", "services"], 8], [["", "configmaps"], 10], [["", "secrets"], 6],
  [["", "events"], 8], [["", "nodes"], 4], [["coordination.k8s.io", "leases"], 14], [["", "namespaces"], 3], [["batch", "jobs"], 5],
];
const CLUSTER_SCOPED = new Set(["nodes", "namespaces"]);
const NAMESPACES = [["default", 30], ["kube-system", 20], ["payments", 15], ["web", 15], ["monitoring", 10], ["ci", 10]];
const VERBS = [["get", 40], ["list", 22], ["watch", 4], ["update", 12], ["patch", 8], ["create", 9], ["delete", 5]];
const METHOD = { get: "GET", list: "GET", watch: "GET", update: "PUT", patch: "PATCH", create: "POST", delete: "DELETE" };
const AGENTS = [["kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9", 35], ["payments-controller/v0.3.1 (linux/amd64) kubernetes/$Format", 50], ["helm/v3.16.2", 15]];
const NETWORK_ERRORS = [
  [{ code: "ECONNREFUSED", message: "dial 10.0.0.1:6443: connection refused", phase: "connect" }, 3],
  [{ code: "ETIMEDOUT", message: "the API server sent no response headers within 60000 ms", phase: "headers" }, 3],
  [{ code: "CERT_HAS_EXPIRED", message: "certificate has expired", phase: "tls" }, 1],
  [{ code: "ECONNRESET", message: "connection to 10.0.0.1:6443 was reset by the API server", phase: "headers" }, 2],
];

function body(obj) {
  const data = JSON.stringify(obj);
  return { data, encoding: "utf8", truncated: false, size: data.length };
}

function make(i) {
  const ctx = rand() < 0.8 ? CONTEXTS[0] : CONTEXTS[1];
  const [group, resource] = pick(RESOURCES);
  let verb = pick(VERBS);
  const cluster = CLUSTER_SCOPED.has(resource);
  const namespace = cluster ? "" : pick(NAMESPACES);
  const named = verb !== "list" && verb !== "watch" && verb !== "create";
  const name = named ? `${resource.slice(0, -1)}-${Math.floor(rand() * 500)}` : "";
  const base = `${group ? `/apis/${group}/v1` : "/api/v1"}${namespace ? `/namespaces/${namespace}` : ""}/${resource}${name ? `/${name}` : ""}`;
  const query = verb === "list" ? (rand() < 0.9 ? "limit=500" : "") : verb === "watch" ? "watch=true&resourceVersion=12345" : "";
  const userAgent = pick(AGENTS);
  const startedAt = now - SPAN_MS + Math.floor((i / total) * SPAN_MS);
  let status = verb === "create" ? 201 : 200;
  let error = null;
  let fromProxy = false;
  const r = rand();
  let message = "";
  if (r < 0.01) {
    status = 403;
    const scope = namespace ? `in the namespace "${namespace}"` : "at the cluster scope";
    message = `${resource}${name ? ` "${name}"` : ""} is forbidden: User "${ctx.user}" cannot ${verb} resource "${resource}" in API group "${group}" ${scope}`;
  } else if (r < 0.011) {
    status = 401;
    message = "Unauthorized";
  } else if (r < 0.04 && named) {
    status = 404;
    message = `${resource} "${name}" not found`;
  } else if (r < 0.05 && verb === "update") {
    status = 409;
    message = `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  } else if (r < 0.053) {
    status = 429;
    message = "Too many requests, please try again later.";
  } else if (r < 0.054) {
    status = 500;
    message = "etcdserver: request timed out";
  } else if (r < 0.0545) {
    error = pick(NETWORK_ERRORS);
    status = null; // kubewire answered the client 502 itself: no response from the API server
    fromProxy = true;
  }
  const median = verb === "list" ? 45 : verb === "watch" ? 30_000 : verb === "get" ? 7 : 18;
  let totalMs = error?.code === "ETIMEDOUT" ? 60_000 : lognormal(median, 0.5);
  if (rand() < 0.0005) totalMs *= 40; // a stalled webhook now and then
  const bytes = status >= 400 ? 300 : verb === "list" ? Math.floor(lognormal(40_000, 1)) : verb === "watch" ? 5000 : 1800;
  const headers = { "content-type": "application/json", "audit-id": `a${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000` };
  if (status === 429) Object.assign(headers, { "retry-after": "1", "x-kubernetes-pf-flowschema-uid": "fs-global-default", "x-kubernetes-pf-prioritylevel-uid": "pl-global-default" });
  const responseBody = status === null ? null
    : status >= 400 ? body({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Error", code: status })
    : body({ kind: verb === "list" ? "List" : resource, apiVersion: "v1", metadata: { resourceVersion: String(100000 + i) } });
  const run = Math.floor((i * sources) / total);
  return {
    startedAt,
    origin: "proxy",
    source: { host: run % 2 ? "ci-runner-3" : "alice-laptop", run: (0x7f3a0000 + run).toString(16) },
    replayOf: null,
    client: { address: `127.0.0.1:${40000 + (i % 20000)}`, userAgent },
    context: ctx.name,
    clusterUrl: ctx.url,
    kubeUser: ctx.user,
    request: { method: METHOD[verb], path: base, query, headers: { accept: "application/json", "user-agent": userAgent, authorization: "Bearer [redacted]" }, body: null, bytes: verb === "create" || verb === "update" ? 900 : 0 },
    info: { isResourceRequest: true, verb, apiPrefix: group ? "apis" : "api", apiGroup: group, apiVersion: "v1", namespace, resource, subresource: "", name },
    response: status === null ? null : { status, headers, body: responseBody, bytes },
    ...(fromProxy ? { proxyAnswer: { status: 502, headers: { "content-type": "text/plain; charset=utf-8" }, body: { data: `kubewire: cannot reach the API server ${ctx.url}: ${error.message} [${error.code}]`, encoding: "utf8", truncated: false, size: 120 } } } : {}),
    timing: { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: totalMs * 0.9, totalMs, reusedConnection: true },
    tls: error && error.phase !== "tls" && error.code !== "ETIMEDOUT" ? null : { protocol: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256", alpn: "http/1.1", resumed: false, chain: ctx.chain },
    error,
    stream: verb === "watch" ? { kind: "watch", events: 12, bytesIn: 0, bytesOut: bytes, durationMs: totalMs, endedBy: "server" } : null,
  };
}

const t0 = performance.now();
const store = Store.open(path);
for (let done = 0; done < total; ) {
  const n = Math.min(BATCH, total - done);
  const batch = Array.from({ length: n }, (_, k) => make(done + k));
  store.insertMany(batch, flagsOf);
  done += n;
  if (done % 200_000 === 0 || done === total) process.stderr.write(`${done} exchanges (${((performance.now() - t0) / 1000).toFixed(1)}s)\n`);
}
store.close();
console.log(`wrote ${total} exchanges to ${path} in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
