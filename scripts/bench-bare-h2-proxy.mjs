#!/usr/bin/env node
// scripts/bench-h2 helper: a bare HTTP/2 forwarding proxy (node:http2 both legs, no recording), the
// baseline kubewire's h2 path is compared with. Same serving certificate as kubewire (its local CA in
// STATE_DIR); one upstream session at a time (a new one when it closes), the client's headers passed on.
// Usage: node scripts/bench-bare-h2-proxy.mjs UPSTREAM_URL UPSTREAM_CA_FILE STATE_DIR
// Prints one JSON line {url, pid} when ready; exits on SIGTERM/SIGINT or when stdin closes.
import http2 from "node:http2";
import { readFileSync } from "node:fs";
import { loadLocalCa } from "../dist/tls/local-ca.js";

const [upstreamUrl, caFile, stateDir] = process.argv.slice(2);
if (!upstreamUrl || !caFile || !stateDir) {
  process.stderr.write("usage: bench-bare-h2-proxy.mjs UPSTREAM_URL UPSTREAM_CA_FILE STATE_DIR\n");
  process.exit(2);
}
const local = loadLocalCa(stateDir);
const ca = readFileSync(caFile, "utf8");
const sessions = [];
function upstream() {
  for (const s of sessions) if (!s.closed && !s.destroyed && s.active < 250) return s;
  const s = http2.connect(upstreamUrl, { ca });
  s.active = 0;
  s.on("error", () => undefined);
  s.once("close", () => sessions.splice(sessions.indexOf(s), 1));
  s.once("goaway", () => (s.active = Infinity));
  sessions.push(s);
  return s;
}
const DROP = new Set([":method", ":path", ":authority", ":scheme", "connection", "keep-alive", "transfer-encoding", "upgrade", "host"]);
const server = http2.createSecureServer({ key: local.server.keyPem, cert: local.server.certPem });
server.on("stream", (stream, headers, flags) => {
  const out = { ":method": headers[":method"], ":path": headers[":path"] };
  for (const [k, v] of Object.entries(headers)) if (!DROP.has(k)) out[k] = v;
  const s = upstream();
  s.active++;
  const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
  const up = s.request(out, { endStream });
  up.once("close", () => s.active--);
  up.once("response", (h) => {
    const rh = {};
    for (const [k, v] of Object.entries(h)) if (k === ":status" || !DROP.has(k)) rh[k] = v;
    if (!stream.destroyed) stream.respond(rh);
    up.pipe(stream);
  });
  up.on("error", () => (stream.headersSent ? stream.destroy() : stream.respond({ ":status": 502 }, { endStream: true })));
  stream.on("error", () => up.destroy());
  stream.once("close", () => up.destroy());
  if (!endStream) stream.pipe(up);
});
server.on("sessionError", () => undefined);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ url: `https://127.0.0.1:${server.address().port}`, pid: process.pid }) + "\n");
});
const stop = () => {
  server.close();
  for (const s of sessions) s.destroy();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
