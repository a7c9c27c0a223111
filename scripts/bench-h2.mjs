#!/usr/bin/env node
// Issue 10's HTTP/2 figures, side by side in one run, variants alternating: small GETs with h2 on
// both legs at 1, 16 and 256 concurrent streams (hey -h2) through kubewire (`kubewire start`,
// recording), a bare node:http2 forwarding proxy (no recording) and mitmdump (reverse mode, h2 on both
// legs: checked by a probe before the runs), with each proxy's CPU time per request (all its threads,
// from /proc) beside its throughput; first N concurrent watches through kubewire, every one delivered
// an event, with kubewire's memory per watch.
// Usage: npm run build && node scripts/bench-h2.mjs [--seconds 3] [--rounds 2] [--conc 1,16,256] [--watchers 1000]
//          [--before DIR] [--no-mitmdump] [--unrecorded] [--profile DIR]
//   --before DIR   also run the kubewire built in DIR (a checkout with dist/), as "kubewire-before"
//   --paired       instead of the alternating runs, load two variants (--pair; kubewire and kubewire-before) at
//                  the same time (one hey each), so both meet the same machine: their CPU per request
//                  compares the two builds even when other jobs make alternating runs swing 2x
//   --unrecorded   also run a kubewire that forwards and builds each exchange but records none
//                  (`start --capture-for 1s`, measured after that second), as "kubewire-unrecorded":
//                  what recording costs, apart from forwarding
//   --pair A,B     with --paired: the two variants loaded at once (default kubewire,kubewire-before), e.g.
//                  kubewire-unrecorded,bare-h2 (what forwarding alone costs against the bare proxy) or, with
//                  --before DIR --unrecorded, kubewire-unrecorded,kubewire-before-unrecorded (forwarding alone,
//                  this build against DIR's: `start --capture-for 1s` of each)
//   --profile DIR  run kubewire under node --cpu-prof, profiles written to DIR on exit (read them with
//                  scripts/bench-profile.mjs; use --watchers 0 and one --conc to profile one load)
import http2 from "node:http2";
import https from "node:https";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { cpuSeconds, fmt, freePort, median, parseHey, quiet, rssMiB, run, sleep, spawnReady, stopProcess, waitForPort } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const o = { seconds: 3, rounds: 2, conc: [1, 16, 256], watchers: 1000, before: null, mitmdump: true, unrecorded: false, paired: false, pair: ["kubewire", "kubewire-before"], profile: null, path: "/api/v1/namespaces/default/pods/web-1" };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === "--seconds") o.seconds = Number(v);
  else if (a === "--rounds") o.rounds = Number(v);
  else if (a === "--conc") o.conc = v.split(",").map(Number);
  else if (a === "--watchers") o.watchers = Number(v);
  else if (a === "--before") o.before = resolve(v);
  else if (a === "--profile") o.profile = resolve(v);
  else if (a === "--pair") o.pair = v.split(",");
  else if (a === "--no-mitmdump" || a === "--unrecorded" || a === "--paired") {
    if (a === "--no-mitmdump") o.mitmdump = false;
    else if (a === "--paired") o.paired = true;
    else o.unrecorded = true;
    i--;
  }
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
  /** `kubewire start` from the checkout at root, recording into its own database. */
  const startKubewire = async (root, name, nodeArgs = [], startArgs = []) => {
    const kc = join(tmp, `${name}.kubeconfig`);
    const { proc, info: url } = await spawnReady(
      process.execPath,
      [...nodeArgs, join(root, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0", "--db", join(tmp, `${name}.db`), "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc, ...startArgs],
      (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null,
      { label: name },
    );
    procs.push(proc);
    return { name, url, token: parseYaml(readFileSync(kc, "utf8")).users[0].user.token, pid: proc.pid, proc };
  };
  const kw = await startKubewire(ROOT, "kubewire", o.profile ? ["--cpu-prof", "--cpu-prof-dir", o.profile] : []);
  const kwProc = kw.proc, kwUrl = kw.url, kwToken = kw.token;
  const { proc: bareProc, info: bare } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-bare-h2-proxy.mjs"), cluster.url, caFile, join(tmp, "state")], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "bare h2" });
  procs.push(bareProc);
  const variants = [kw, { name: "bare-h2", url: bare.url, token: cluster.token, pid: bareProc.pid }];
  if (o.before) variants.push(await startKubewire(o.before, "kubewire-before"));
  if (o.unrecorded) {
    variants.push(await startKubewire(ROOT, "kubewire-unrecorded", [], ["--capture-for", "1s"]));
    if (o.before) variants.push(await startKubewire(o.before, "kubewire-before-unrecorded", [], ["--capture-for", "1s"]));
    await sleep(1100);
  }
  if (o.mitmdump) variants.push(await startMitmdump(cluster, join(tmp, "state"), tmp, procs));
  log(`cluster ${cluster.url}; ${variants.map((v) => `${v.name} ${v.url}`).join(", ")}`);

  // watches
  const ca = readFileSync(join(tmp, "state", "ca.crt"), "utf8");
  if (o.watchers > 0) {
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
  }
  // small GETs
  const hey = async (v, c) => {
    const cpu0 = cpuSeconds(v.pid);
    const { stdout } = await run("hey", ["-h2", "-z", `${o.seconds}s`, "-c", String(c), "-H", `Authorization: Bearer ${v.token}`, v.url + o.path], { timeoutMs: (o.seconds + 60) * 1000 });
    const h = parseHey(stdout);
    // the proxy's CPU per answered request, all its threads (kubewire's database writer included)
    h.cpuUs = ((cpuSeconds(v.pid) - cpu0) * 1e6) / Math.max(1, h.responses);
    // throughput counts answers (200s) only: hey's req/s also counts requests that failed (mitmdump at 256 streams)
    h.okRps = (h.statuses["200"] ?? 0) / h.totalSecs;
    return h;
  };
  if (o.paired) {
    const pair = o.pair.map((name) => variants.find((v) => v.name === name) ?? (() => { throw new Error(`--pair: no variant ${name} in this run (${variants.map((v) => v.name).join(", ")})`); })());
    const res = {};
    for (let r = 0; r < o.rounds; r++) {
      for (const c of o.conc) {
        await quiet([clusterProc.pid, ...variants.map((v) => v.pid)]);
        const hs = await Promise.all(pair.map((v) => hey(v, c)));
        pair.forEach((v, i) => ((res[c] ??= {})[v.name] ??= []).push(hs[i]));
        log(`paired round ${r + 1} c=${c}: ${pair.map((v, i) => `${v.name} ${fmt(hs[i].okRps, 0)} answered/s, ${fmt(hs[i].cpuUs, 0)} µs CPU/req`).join("; ")}`);
      }
    }
    const [a, b] = pair.map((v) => v.name);
    console.log(`paired (${a} and ${b} loaded at once, one hey each), ${o.seconds}s x ${o.rounds} rounds (median 200s per second, median CPU per answered request):`);
    for (const c of o.conc) {
      const m = (name, f) => median(res[c][name].map(f));
      console.log(`  ${String(c).padStart(3)} streams: ${pair.map((v) => `${v.name} ${fmt(m(v.name, (x) => x.okRps), 0)} req/s, ${fmt(m(v.name, (x) => x.cpuUs), 0)} µs CPU/req`).join("; ")}; CPU per request ${a} / ${b} ${fmt(m(a, (x) => x.cpuUs) / m(b, (x) => x.cpuUs))}, req/s ${a} / ${b} ${fmt(m(a, (x) => x.okRps) / m(b, (x) => x.okRps))}`);
    }
  } else {
    const results = {};
    const pids = [clusterProc.pid, ...variants.map((v) => v.pid)];
    for (let r = 0; r < o.rounds; r++) {
      for (const c of o.conc) {
        for (const v of r % 2 ? [...variants].reverse() : variants) {
          await quiet(pids);
          const h = await hey(v, c);
          ((results[c] ??= {})[v.name] ??= []).push(h);
          log(`round ${r + 1} c=${c} ${v.name}: ${fmt(h.okRps, 0)} answered/s, p50 ${fmt(h.p50)} ms, ${fmt(h.cpuUs, 0)} µs CPU/req${h.errors ? `, ${h.errors} errors: ${h.errorText}` : ""}${h.statuses["200"] !== h.responses ? `, statuses ${JSON.stringify(h.statuses)}` : ""}`);
        }
      }
    }
    console.log(`small GETs, h2 on both legs, ${o.seconds}s x ${o.rounds} rounds alternating (median 200s per second, median p50, median proxy CPU per answered request):`);
    for (const c of o.conc) {
      const m = (name, f) => median(results[c][name].map(f));
      const row = variants.map((v) => `${v.name} ${fmt(m(v.name, (x) => x.okRps), 0)} req/s (p50 ${fmt(m(v.name, (x) => x.p50))} ms, ${fmt(m(v.name, (x) => x.cpuUs), 0)} µs CPU/req)`);
      const kr = m("kubewire", (x) => x.okRps);
      const ratios = variants.filter((v) => v.name !== "kubewire").map((v) => `${fmt(kr / m(v.name, (x) => x.okRps))}x ${v.name}`);
      console.log(`  ${String(c).padStart(3)} streams: ${row.join(", ")}; kubewire = ${ratios.join(", ")}`);
    }
  }
} finally {
  await Promise.all(procs.map((p) => stopProcess(p, 5000)));
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * mitmdump (mitmproxy 8.1) as a reverse proxy in front of the simulated cluster, serving kubewire's
 * certificate. Its default connection strategy (eager) opens the upstream connection before the
 * client's TLS hello and then agrees on no ALPN protocol with either side: HTTP/1.1 on both legs.
 * With connection_strategy=lazy it passes the client's ALPN offer on: h2 on both legs, which a probe
 * instance (an addon printing both legs' HTTP versions) checks before the measured one starts.
 */
async function startMitmdump(cluster, stateDir, tmp, procs) {
  const { loadLocalCa } = await import("../dist/tls/local-ca.js");
  const local = loadLocalCa(stateDir);
  const pem = join(tmp, "mitm-cert.pem");
  writeFileSync(pem, local.server.keyPem + local.server.certPem, { mode: 0o600 });
  const addon = join(tmp, "mitm-probe.py");
  writeFileSync(addon, 'def response(flow):\n    print("PROBE", flow.request.http_version, flow.response.http_version, flush=True)\n');
  const args = (port) => ["--mode", `reverse:${cluster.url}`, "--ssl-insecure", "--listen-host", "127.0.0.1", "--listen-port", String(port), "--certs", `*=${pem}`, "--set", `confdir=${join(tmp, "mitm")}`, "--set", "connection_strategy=lazy", "-q"];
  const launch = async (extra) => {
    const port = await freePort();
    const proc = spawn("mitmdump", [...args(port), ...extra], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(proc);
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (out += d));
    await waitForPort(port);
    return { proc, url: `https://127.0.0.1:${port}`, out: () => out };
  };
  const probe = await launch(["-s", addon]);
  const clientAlpn = await new Promise((resolve, reject) => {
    const s = http2.connect(probe.url, { rejectUnauthorized: false });
    s.once("error", reject);
    s.once("connect", () => {
      const st = s.request({ ":path": "/api/v1/namespaces/default/pods/web-1", authorization: `Bearer ${cluster.token}` });
      st.resume();
      st.once("end", () => {
        s.close();
        resolve(s.alpnProtocol);
      });
      st.once("error", reject);
    });
  });
  for (let i = 0; i < 50 && !/PROBE/.test(probe.out()); i++) await sleep(100);
  await stopProcess(probe.proc, 5000);
  const legs = /PROBE (\S+) (\S+)/.exec(probe.out());
  if (clientAlpn !== "h2" || !legs || legs[1] !== "HTTP/2.0" || legs[2] !== "HTTP/2.0") throw new Error(`mitmdump does not speak h2 on both legs (client ALPN ${clientAlpn}, mitmdump saw ${legs ? `${legs[1]} from the client, ${legs[2]} from the server` : "nothing"})`);
  process.stderr.write(`bench-h2: mitmdump probe: client ALPN ${clientAlpn}; request ${legs[1]}, upstream response ${legs[2]}: h2 on both legs\n`);
  const m = await launch([]);
  return { name: "mitmdump", url: m.url, token: cluster.token, pid: m.proc.pid };
}
