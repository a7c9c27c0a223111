#!/usr/bin/env node
// Issue 9 item 8's figure: opens N silent TCP connections (never a TLS byte) to a kubewire proxy in
// a child process, closes them, and prints the proxy's descriptor count and RSS before, while open
// and after, plus whether a request with the token was answered while they were open.
// Usage: npm run build && node scripts/bench-silent-connections.mjs [N=2000] [rounds=3]
import https from "node:https";
import net from "node:net";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rssMiB, sleep, spawnReady, stopProcess } from "./bench-lib.mjs";

if (process.argv[2] === "--serve") {
  // the child: demo cluster + kubewire proxy, the same way `kubewire demo` wires them
  const dir = process.argv[3];
  const { startDemoCluster } = await import("../dist/demo/cluster.js");
  const { writeDemoKubeconfig } = await import("../dist/demo/kubeconfig.js");
  const { loadKubeconfig } = await import("../dist/kubeconfig/load.js");
  const { resolveUpstream } = await import("../dist/kubeconfig/upstream.js");
  const { loadLocalCa } = await import("../dist/tls/local-ca.js");
  const { startProxy } = await import("../dist/proxy/server.js");
  const cluster = await startDemoCluster();
  writeDemoKubeconfig(cluster, join(dir, "kc"));
  const upstream = await resolveUpstream(loadKubeconfig({ kubeconfig: join(dir, "kc"), context: "demo-admin" }));
  const local = loadLocalCa(dir);
  const proxy = await startProxy({ upstream, sink: { record() {} }, ca: local.ca, server: local.server, token: "bench", port: 0 });
  writeFileSync(join(dir, "ca.pem"), local.ca.certPem);
  process.stdout.write(JSON.stringify({ port: proxy.port }) + "\n");
  process.stdin.resume();
  process.stdin.once("end", () => process.exit(0));
  process.once("SIGTERM", () => process.exit(0));
  // RSS figures are read after a full collection, so they show what is retained, not garbage not yet collected
  process.on("SIGUSR2", () => globalThis.gc?.());
} else {
  const n = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), "kubewire-silent-"));
  const { proc, info } = await spawnReady(process.execPath, ["--expose-gc", new URL(import.meta.url).pathname, "--serve", dir], (l) => (l.startsWith("{") ? JSON.parse(l) : null));
  const fds = () => readdirSync(`/proc/${proc.pid}/fd`).length;
  const { readFileSync } = await import("node:fs");
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const agent = new https.Agent({ keepAlive: false });
  const get = () =>
    new Promise((resolve) => {
      https
        .get({ host: "127.0.0.1", port: info.port, path: "/api", ca, agent, headers: { authorization: "Bearer bench" }, timeout: 10_000 }, (res) => {
          res.resume();
          res.once("end", () => resolve(res.statusCode));
        })
        .once("error", (e) => resolve(e.code ?? e.message));
    });
  /** waits until the reading stops falling, at most 5 s */
  const settle = async () => {
    proc.kill("SIGUSR2");
    let last = fds();
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const now = fds();
      if (now >= last && i > 2) return now;
      last = now;
    }
    return last;
  };
  await get();
  const before = { fds: await settle(), rss: rssMiB(proc.pid) };
  console.log(`proxy before: ${before.fds} descriptors, ${before.rss.toFixed(1)} MiB RSS`);
  for (let r = 1; r <= rounds; r++) {
    const sockets = [];
    for (let i = 0; i < n; i++) {
      sockets.push(
        await new Promise((resolve) => {
          const s = net.connect(info.port, "127.0.0.1", () => resolve(s));
          s.on("error", () => resolve(s));
        }),
      );
    }
    await sleep(200);
    const open = { fds: fds(), rss: rssMiB(proc.pid) };
    const status = await get();
    const refused = sockets.filter((s) => s.destroyed || s.readableEnded).length;
    for (const s of sockets) s.destroy();
    const after = { fds: await settle(), rss: rssMiB(proc.pid) };
    console.log(
      `round ${r}: ${n} silent connections: open ${open.fds} descriptors (${refused} dropped over the cap), ${open.rss.toFixed(1)} MiB; ` +
        `request with the token meanwhile: ${status}; after close: ${after.fds} descriptors, ${after.rss.toFixed(1)} MiB`,
    );
  }
  await stopProcess(proc);
  rmSync(dir, { recursive: true, force: true });
}
