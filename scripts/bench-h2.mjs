#!/usr/bin/env node
// Issue 10's HTTP/2 figures, side by side in one run, variants alternating: small GETs with h2 on
// both legs at 1, 16 and 256 concurrent streams (hey -h2) through kubewire (`kubewire start`,
// recording) and through a bare node:http2 forwarding proxy; first N concurrent watches through a
// fresh kubewire, every one delivered an event, with kubewire's memory per watch.
// Usage: npm run build && node scripts/bench-h2.mjs [--seconds 3] [--rounds 2] [--conc 1,16,256] [--watchers 1000]
import http2 from "node:http2";
import https from "node:https";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { fmt, median, parseHey, rssMiB, run, sleep, spawnReady, stopProcess } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const o = { seconds: 3, rounds: 2, conc: [1, 16, 256], watchers: 1000, path: "/api/v1/namespaces/default/pods/web-1" };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === "--seconds") o.seconds = Number(v);
  else if (a === "--rounds") o.rounds = Number(v);
  else if (a === "--conc") o.conc = v.split(",").map(Number);
  else if (a === "--watchers") o.watchers = Number(v);
  else throw new Error(`unknown option ${a}`);
}
const log = (l) => process.stderr.write(`bench-h2: ${l}\n`);
const tmp = mkdtempSync(join(tmpdir(), "kubewire-bench-h2-"));
const procs = [];
try {
  const demoKc = join(tmp, "demo.kubeconfig");
  const { proc: clusterProc, info: cluster } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
  procs.push(clusterProc);
  const caFile = join(tmp, "demo-ca.crt");
  writeFileSync(caFile, Buffer.from(parseYaml(readFileSync(demoKc, "utf8")).clusters[0].cluster["certificate-authority-data"], "base64"));
  const kc = join(tmp, "kw.kubeconfig");
  const { proc: kwProc, info: kwUrl } = await spawnReady(
    process.execPath,
    [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0", "--db", join(tmp, "kw.db"), "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc],
    (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null,
    { label: "kubewire" },
  );
  procs.push(kwProc);
  const kwToken = parseYaml(readFileSync(kc, "utf8")).users[0].user.token;
  const { proc: bareProc, info: bare } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-bare-h2-proxy.mjs"), cluster.url, caFile, join(tmp, "state")], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "bare h2" });
  procs.push(bareProc);
  const variants = [
    { name: "kubewire", url: kwUrl, token: kwToken },
    { name: "bare-h2", url: bare.url, token: cluster.token },
  ];
  log(`cluster ${cluster.url}, kubewire ${kwUrl}, bare ${bare.url}`);

  // watches
  const ca = readFileSync(join(tmp, "state", "ca.crt"), "utf8");
  await sleep(1000);
  const before = rssMiB(kwProc.pid);
  const clients = [];
  const perClient = 250;
  const watches = [];
  for (let i = 0; i < o.watchers; i++) {
    if (i % perClient === 0) {
      const s = http2.connect(kwUrl, { ca });
      s.on("error", () => undefined);
      clients.push(s);
    }
    const s = clients.at(-1);
    watches.push(
      new Promise((resolve) => {
        const st = s.request({ ":path": "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=false", authorization: `Bearer ${kwToken}` });
        let buf = "";
        st.setEncoding("utf8");
        st.on("data", (d) => {
          buf += d;
          if (buf.includes("bench-h2-event")) resolve(st);
        });
        st.on("error", () => resolve(null));
      }),
    );
  }
  await sleep(3000);
  const during = rssMiB(kwProc.pid);
  const created = await new Promise((resolve) => {
    const body = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "bench-h2-event" }, data: { a: "b" } });
    const req = https.request(kwUrl + "/api/v1/namespaces/default/configmaps", { method: "POST", ca, headers: { authorization: `Bearer ${kwToken}`, "content-type": "application/json" } }, (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode));
    });
    req.end(body);
  });
  const t0 = Date.now();
  const delivered = await Promise.race([Promise.all(watches), sleep(60_000).then(() => null)]);
  const got = delivered ? delivered.filter(Boolean).length : "timeout";
  console.log(`${o.watchers} concurrent watches through kubewire (h2 both legs, ${clients.length} client connections): create ${created}, event delivered to ${got}/${o.watchers} in ${Date.now() - t0} ms; kubewire RSS ${fmt(before, 1)} MiB before, ${fmt(during, 1)} MiB with the watches open: ${fmt(((during - before) * 1024) / o.watchers, 1)} KiB per watch`);
  for (const s of clients) s.destroy();
  // small GETs
  const results = {};
  for (let r = 0; r < o.rounds; r++) {
    for (const c of o.conc) {
      for (const v of r % 2 ? [...variants].reverse() : variants) {
        const { stdout } = await run("hey", ["-h2", "-z", `${o.seconds}s`, "-c", String(c), "-H", `Authorization: Bearer ${v.token}`, v.url + o.path], { timeoutMs: (o.seconds + 60) * 1000 });
        const h = parseHey(stdout);
        ((results[c] ??= {})[v.name] ??= []).push(h);
        log(`round ${r + 1} c=${c} ${v.name}: ${fmt(h.rps, 0)} req/s, p50 ${fmt(h.p50)} ms${h.errors ? `, ${h.errors} errors` : ""}`);
      }
    }
  }
  console.log(`small GETs, h2 on both legs, ${o.seconds}s x ${o.rounds} rounds alternating (median req/s, median p50):`);
  for (const c of o.conc) {
    const k = results[c].kubewire, b = results[c]["bare-h2"];
    const kr = median(k.map((x) => x.rps)), br = median(b.map((x) => x.rps));
    console.log(`  ${String(c).padStart(3)} streams: kubewire ${fmt(kr, 0)} req/s (p50 ${fmt(median(k.map((x) => x.p50)))} ms), bare node:http2 ${fmt(br, 0)} req/s (p50 ${fmt(median(b.map((x) => x.p50)))} ms), ratio ${fmt(kr / br)}x`);
  }

} finally {
  await Promise.all(procs.map((p) => stopProcess(p, 5000)));
  rmSync(tmp, { recursive: true, force: true });
}
