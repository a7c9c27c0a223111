#!/usr/bin/env node
// scripts/bench helper: a bare forwarding proxy, TLS on both sides, no recording, as the
// baseline for what recording costs. Same serving certificate as kubewire (its local CA in
// STATE_DIR), keep-alive upstream agent like kubewire's, the client's Authorization passed on.
// Usage: node scripts/bench-bare-proxy.mjs UPSTREAM_URL UPSTREAM_CA_FILE STATE_DIR [http-proxy|node]
//   http-proxy  http-proxy 1.18 (what kubewire forwards with), the default
//   node        node:https request + pipe, no library (to see what http-proxy itself costs)
// Prints one JSON line {url, pid} when ready; exits on SIGTERM/SIGINT or when stdin closes.
import https from "node:https";
import { readFileSync } from "node:fs";
import httpProxy from "http-proxy";
import { loadLocalCa } from "../dist/tls/local-ca.js";

const [upstreamUrl, caFile, stateDir, impl = "http-proxy"] = process.argv.slice(2);
if (!upstreamUrl || !caFile || !stateDir) {
  process.stderr.write("usage: bench-bare-proxy.mjs UPSTREAM_URL UPSTREAM_CA_FILE STATE_DIR [http-proxy|node]\n");
  process.exit(2);
}
const local = loadLocalCa(stateDir);
const ca = readFileSync(caFile, "utf8");
const target = new URL(upstreamUrl);
const agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca, scheduling: "lifo" });

let handler;
if (impl === "http-proxy") {
  const proxy = httpProxy.createProxyServer({});
  proxy.on("error", (_err, _req, res) => {
    if (res && !res.headersSent && typeof res.writeHead === "function") res.writeHead(502).end();
    else res?.destroy?.();
  });
  handler = (req, res) => proxy.web(req, res, { target: upstreamUrl, agent, changeOrigin: true, xfwd: false });
} else if (impl === "node") {
  handler = (req, res) => {
    const headers = { ...req.headers, host: target.host };
    const up = https.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    res.on("close", () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };
} else {
  process.stderr.write(`unknown implementation ${impl}\n`);
  process.exit(2);
}

const server = https.createServer({ key: local.server.keyPem, cert: local.server.certPem }, handler);
server.keepAliveTimeout = 65_000;
server.requestTimeout = 0;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ url: `https://127.0.0.1:${server.address().port}`, pid: process.pid }) + "\n");
});
const stop = () => {
  server.close();
  server.closeAllConnections?.();
  agent.destroy();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
