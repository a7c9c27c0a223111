#!/usr/bin/env node
// scripts/bench's driver (issue 6): load, watches, a 200 MB list, recorded-vs-sent and
// kubectl whole-process time, on the simulated cluster, variants alternating in one run.
// Run it through scripts/bench (which checks the tools); see `scripts/bench --help`.
import https from "node:https";
import { setMaxListeners } from "node:events";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir, cpus, totalmem, release } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { Store } from "../dist/store/store.js";
import {
  cpuSeconds, fmt, freePort, median, parseHey, percentile, quiet, rssMiB, run, sleep, spawnReady, stopProcess, waitForPort,
} from "./bench-lib.mjs";
import { formatSummary, summarize } from "./bench-profile.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HELP = `usage: scripts/bench [options]
  --seconds N        length of each load run (default 3)
  --rounds N         alternating rounds of every variant at every concurrency (default 2)
  --conc LIST        concurrencies (default 1,16,256)
  --variants LIST    of direct,kubewire,bare,bare-node,mitmdump (default all available)
  --path PATH        the small GET (default /api/v1/namespaces/default/pods/web-1)
  --watchers N       concurrent watches through kubewire (default 100)
  --watch-seconds N  how long they run (default 60)
  --big-mb N         size of the big list (default 200)
  --kubectl-runs N   hyperfine runs per kubectl variant and round (default 10)
  --profile-seconds N  CPU-profile kubewire (node --cpu-prof) under 16 connections for N s (default 8, 0 = off)
  --skip LIST        phases to skip: load,watch,big,kubectl,profile
  --json FILE        also write every figure as JSON
  --keep             keep the temporary folder (kubeconfigs, databases, profiles)`;

function parseArgs(argv) {
  const o = {
    seconds: 3, rounds: 2, conc: [1, 16, 256], variants: null, path: "/api/v1/namespaces/default/pods/web-1",
    watchers: 100, watchSeconds: 60, bigMb: 200, kubectlRuns: 10, profileSeconds: 8, skip: new Set(), json: "", keep: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = (min, max) => {
      const v = Number(next());
      if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${a}: a whole number from ${min} to ${max}`);
      return v;
    };
    switch (a) {
      case "--seconds": o.seconds = int(1, 60); break;
      case "--rounds": o.rounds = int(1, 10); break;
      case "--conc": o.conc = next().split(",").map(Number); break;
      case "--variants": o.variants = next().split(","); break;
      case "--path": o.path = next(); break;
      case "--watchers": o.watchers = int(1, 1000); break;
      case "--watch-seconds": o.watchSeconds = int(1, 600); break;
      case "--big-mb": o.bigMb = int(1, 2048); break;
      case "--kubectl-runs": o.kubectlRuns = int(2, 100); break;
      case "--profile-seconds": o.profileSeconds = int(0, 120); break;
      case "--skip": for (const s of next().split(",")) o.skip.add(s); break;
      case "--json": o.json = resolve(next()); break;
      case "--keep": o.keep = true; break;
      case "-h": case "--help": process.stdout.write(HELP + "\n"); process.exit(0); break;
      default: throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  if (o.conc.some((c) => !Number.isInteger(c) || c < 1 || c > 1000)) throw new Error("--conc: whole numbers from 1 to 1000");
  return o;
}

const log = (line) => process.stderr.write(`bench: ${line}\n`);
const out = (line = "") => process.stdout.write(line + "\n");

async function have(cmd) {
  try {
    await run("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- processes

async function startKubewire(tmp, name, demoKc, { cpuProfDir } = {}) {
  const kc = join(tmp, `${name}.kubeconfig`);
  const db = join(tmp, `${name}.db`);
  const args = [
    ...(cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", cpuProfDir] : []),
    join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0",
    "--db", db, "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc,
  ];
  const { proc, info } = await spawnReady(process.execPath, args, (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null, { label: `kubewire (${name})` });
  const doc = parseYaml(readFileSync(kc, "utf8"));
  const token = doc.users[0].user.token;
  return { proc, url: info, token, kc, db, pid: proc.pid };
}

/** Waits until the recording has stopped growing (the recorder batches every 50 ms). */
async function settledCount(store, timeoutMs = 5000) {
  let last = -1;
  let stableSince = Date.now();
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const n = store.count();
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 300) return n;
    await sleep(50);
  }
  return store.count();
}

// ---------------------------------------------------------------- phases

async function hey(url, token, c, seconds, path) {
  const args = ["-z", `${seconds}s`, "-c", String(c), "-t", "20", "-H", `Authorization: Bearer ${token}`, url + path];
  const { stdout } = await run("hey", args, { timeoutMs: (seconds + 60) * 1000 });
  return parseHey(stdout);
}

/** Exchanges of the benchmark's own requests, and the rest (connections the client abandoned mid-handshake). */
function counts(store, path) {
  const total = store.count();
  const requests = store.count({ pathContains: path });
  return { total, requests };
}

async function loadPhase(o, variants, results, clusterPid) {
  log(`load: ${variants.map((v) => v.name).join(", ")} at concurrency ${o.conc.join(", ")}, ${o.rounds} round(s) of ${o.seconds} s each, alternating`);
  for (const v of variants) await hey(v.url, v.token, 4, 1, o.path); // warm connections and JIT
  const kw = variants.find((v) => v.name === "kubewire");
  if (kw) await settledCount(kw.store);
  for (let r = 0; r < o.rounds; r++) {
    for (const c of o.conc) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]);
      for (const v of order) {
        if (v.store) await settledCount(v.store);
        await quiet([clusterPid, ...variants.map((x) => x.pid)]);
        const before = v.store ? counts(v.store, o.path) : null;
        const cpu0 = v.pid ? cpuSeconds(v.pid) : NaN;
        const h = await hey(v.url, v.token, c, o.seconds, o.path);
        const cpu1 = v.pid ? cpuSeconds(v.pid) : NaN;
        const row = { round: r + 1, variant: v.name, conc: c, ...h, rssMiB: v.pid ? rssMiB(v.pid) : NaN, cpuUsPerReq: ((cpu1 - cpu0) * 1e6) / (h.responses + h.errors) };
        if (v.store) {
          await settledCount(v.store);
          const after = counts(v.store, o.path);
          row.recorded = after.requests - before.requests;
          row.connectionRecords = after.total - after.requests - (before.total - before.requests);
          row.sent = h.responses + h.errors;
        }
        results.load.push(row);
        log(`  r${r + 1} c=${String(c).padStart(3)} ${v.name.padEnd(9)} ${fmt(h.rps, 0).padStart(6)} req/s  p50 ${fmt(h.p50)} ms  p99 ${fmt(h.p99)} ms  cpu ${fmt(row.cpuUsPerReq, 0)} µs/req${h.errors ? `  ERRORS ${h.errors}: ${h.errorText}` : ""}${v.store ? `  recorded ${row.recorded}/${row.sent}${row.connectionRecords ? ` (+${row.connectionRecords} abandoned handshakes)` : ""}` : ""}`);
      }
    }
  }
}

function request(url, { token, method = "GET", body, onData, signal } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method, rejectUnauthorized: false, agent: false, signal,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": "application/json" } : {}) },
    }, (res) => {
      let bytes = 0;
      let text = "";
      res.on("data", (d) => {
        bytes += d.length;
        if (onData) onData(d);
        else if (text.length < 4096) text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode, bytes, text }));
      res.on("error", reject);
      res.on("aborted", () => resolve({ status: res.statusCode, bytes, text, aborted: true }));
    });
    req.on("error", (e) => (e.name === "AbortError" ? resolve({ status: 0, bytes: 0, text: "", aborted: true }) : reject(e)));
    req.end(body);
  });
}

async function watchPhase(o, cluster, kw, results) {
  const path = "/api/v1/namespaces/default/configmaps?watch=true";
  log(`watch: ${o.watchers} watches through kubewire for ${o.watchSeconds} s, configmaps created directly at 10/s, one direct watch as control`);
  const idle = rssMiB(kw.pid);
  const before = await settledCount(kw.store);
  const ctl = new AbortController();
  setMaxListeners(0, ctl.signal);
  const counts = new Array(o.watchers).fill(0);
  let control = 0;
  let opened = 0;
  const countLines = (d) => {
    let n = 0;
    for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) n++;
    return n;
  };
  const watches = counts.map((_, i) =>
    request(kw.url + path, { token: kw.token, signal: ctl.signal, onData: (d) => { if (counts[i] === 0) opened++; counts[i] += countLines(d); } }),
  );
  const controlWatch = request(cluster.url + path, { token: cluster.token, signal: ctl.signal, onData: (d) => (control += countLines(d)) });
  const openBy = Date.now() + 15_000;
  while (opened < o.watchers && Date.now() < openBy) await sleep(50);
  const initial = control;
  const rss = [];
  const started = Date.now();
  const stamp = started.toString(36);
  let created = 0;
  let createErrors = 0;
  const sampler = setInterval(() => rss.push(rssMiB(kw.pid)), 500);
  const cpu0 = cpuSeconds(kw.pid);
  for (let i = 0; Date.now() - started < o.watchSeconds * 1000; i++) {
    const next = started + (i + 1) * 100;
    const body = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `bench-${stamp}-${i}`, namespace: "default" }, data: { i: String(i) } });
    const r = await request(cluster.url + "/api/v1/namespaces/default/configmaps", { token: cluster.token, method: "POST", body }).catch(() => ({ status: 0 }));
    if (r.status === 201 || r.status === 200) created++;
    else createErrors++;
    await sleep(Math.max(0, next - Date.now()));
  }
  await sleep(1000); // let the last events through
  const cpu1 = cpuSeconds(kw.pid);
  clearInterval(sampler);
  const peak = Math.max(...rss, idle);
  ctl.abort();
  await Promise.allSettled([...watches, controlWatch]);
  const recorded = (await settledCount(kw.store)) - before;
  const sorted = [...counts].sort((a, b) => a - b);
  const w = {
    watchers: o.watchers, seconds: o.watchSeconds, opened, created, createErrors, initialEvents: initial, controlEvents: control,
    perWatcherMin: sorted[0], perWatcherMedian: median(sorted), perWatcherMax: sorted[sorted.length - 1],
    delivered: counts.reduce((a, b) => a + b, 0), expected: control * o.watchers, complete: counts.filter((n) => n === control).length,
    rssIdleMiB: idle, rssPeakMiB: peak, rssEndMiB: rss[rss.length - 1] ?? NaN, cpuSecs: cpu1 - cpu0, recordedWatchExchanges: recorded,
  };
  results.watch = w;
  log(`  ${w.opened}/${w.watchers} open; ${created} created (${createErrors} failed); control saw ${control} events; watchers got min ${w.perWatcherMin} / median ${w.perWatcherMedian} / max ${w.perWatcherMax}; ${w.complete} complete`);
  log(`  kubewire RSS idle ${fmt(idle, 1)} MiB, peak ${fmt(peak, 1)} MiB; CPU ${fmt(w.cpuSecs, 1)} s; ${recorded} exchanges recorded for ${o.watchers} watches`);
}

async function bigPhase(o, cluster, kw, results) {
  const path = "/api/v1/namespaces/big/configmaps";
  log(`big list: ${o.bigMb} MB ${path}, direct and through kubewire alternating, 2 rounds each`);
  results.big = [];
  for (let r = 0; r < 2; r++) {
    for (const v of [{ name: "direct", url: cluster.url, token: cluster.token }, { name: "kubewire", url: kw.url, token: kw.token, pid: kw.pid }]) {
      const idle = v.pid ? rssMiB(v.pid) : NaN;
      let peak = idle;
      const sampler = v.pid ? setInterval(() => (peak = Math.max(peak, rssMiB(v.pid))), 50) : null;
      const t0 = performance.now();
      const res = await request(v.url + path, { token: v.token, onData: () => {} });
      const secs = (performance.now() - t0) / 1000;
      if (sampler) clearInterval(sampler);
      if (v.pid) peak = Math.max(peak, rssMiB(v.pid));
      const row = { round: r + 1, variant: v.name, status: res.status, bytes: res.bytes, secs, mbPerSec: res.bytes / 1e6 / secs, rssIdleMiB: idle, rssPeakMiB: peak, growthMiB: peak - idle };
      results.big.push(row);
      log(`  r${r + 1} ${v.name.padEnd(9)} ${res.status} ${(res.bytes / 1e6).toFixed(0)} MB in ${fmt(secs)} s (${fmt(row.mbPerSec, 0)} MB/s)${v.pid ? `  RSS ${fmt(idle, 1)} → peak ${fmt(peak, 1)} MiB (+${fmt(row.growthMiB, 1)})` : ""}`);
      await sleep(500);
    }
  }
}

async function kubectlPhase(o, tmp, demoKc, kw, results) {
  log(`kubectl get pods: hyperfine, ${o.kubectlRuns} runs per variant per round, 2 rounds in opposite order`);
  const warmDirect = join(tmp, "cache-direct");
  const warmKw = join(tmp, "cache-kubewire");
  const coldDirect = join(tmp, "cold-direct");
  const coldKw = join(tmp, "cold-kubewire");
  const cmd = (kc, dir) => `kubectl --kubeconfig ${kc} --cache-dir ${dir} get pods`;
  const sets = [
    { label: "warm", cmds: { direct: cmd(demoKc, warmDirect), kubewire: cmd(kw.kc, warmKw) }, prepare: null },
    { label: "cold", cmds: { direct: cmd(demoKc, coldDirect), kubewire: cmd(kw.kc, coldKw) }, prepare: { direct: `rm -rf ${coldDirect}`, kubewire: `rm -rf ${coldKw}` } },
  ];
  results.kubectl = [];
  for (const set of sets) {
    const times = { direct: [], kubewire: [] };
    for (let r = 0; r < 2; r++) {
      const order = r === 0 ? ["direct", "kubewire"] : ["kubewire", "direct"];
      const file = join(tmp, `hyperfine-${set.label}-${r}.json`);
      const args = ["-N", "--warmup", "2", "--runs", String(o.kubectlRuns), "--export-json", file, "--style", "none"];
      for (const v of order) {
        if (set.prepare) args.push("--prepare", set.prepare[v]);
      }
      for (const v of order) args.push("-n", `${set.label}-${v}`, set.cmds[v]);
      await run("hyperfine", args, { timeoutMs: 180_000 });
      const j = JSON.parse(readFileSync(file, "utf8"));
      j.results.forEach((res, i) => times[order[i]].push(...res.times));
    }
    const stat = (t) => {
      const s = [...t].sort((a, b) => a - b);
      const mean = s.reduce((a, b) => a + b, 0) / s.length;
      return { n: s.length, meanMs: mean * 1000, medianMs: median(s) * 1000, p90Ms: percentile(s, 90) * 1000, minMs: s[0] * 1000 };
    };
    const row = { cache: set.label, direct: stat(times.direct), kubewire: stat(times.kubewire), commands: set.cmds };
    row.ratioMedian = row.kubewire.medianMs / row.direct.medianMs;
    row.ratioMean = row.kubewire.meanMs / row.direct.meanMs;
    results.kubectl.push(row);
    log(`  ${set.label}: direct median ${fmt(row.direct.medianMs, 1)} ms, kubewire ${fmt(row.kubewire.medianMs, 1)} ms (×${fmt(row.ratioMedian, 3)})`);
  }
}

async function profilePhase(o, tmp, demoKc, results) {
  const dir = join(tmp, "cpuprof");
  log(`profile: a second kubewire under node --cpu-prof, hey -c 16 for ${o.profileSeconds} s`);
  const kw = await startKubewire(tmp, "kubewire-prof", demoKc, { cpuProfDir: dir });
  kw.store = Store.open(kw.db, { readonly: true });
  await hey(kw.url, kw.token, 16, 2, o.path); // warm: connections, JIT
  await quiet([kw.pid]);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const h = await hey(kw.url, kw.token, 16, o.profileSeconds, o.path);
  const toUs = Number(process.hrtime.bigint() / 1000n);
  await settledCount(kw.store);
  kw.store.close();
  await stopProcess(kw.proc, 15_000);
  const file = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()[0] : undefined;
  if (!file) {
    log("  no .cpuprofile was written (kubewire did not exit cleanly)");
    return;
  }
  // the main thread's profile (the writer thread writes its own, ...002.cpuprofile)
  const s = summarize(JSON.parse(readFileSync(join(dir, file), "utf8")), 25, { fromUs, toUs });
  results.profile = { requests: h.responses + h.errors, rps: h.rps, file: join(dir, file), summary: s };
  results.profileText = formatSummary(s, h.responses + h.errors);
  log(`  ${h.responses} requests at ${fmt(h.rps, 0)} req/s (profiling slows it); profile ${join(dir, file)}`);
}

// ---------------------------------------------------------------- report

function report(o, results) {
  const groups = new Map();
  for (const r of results.load) {
    const k = `${r.conc}|${r.variant}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const agg = (c, v) => {
    const rows = groups.get(`${c}|${v}`) ?? [];
    return rows.length ? { rps: median(rows.map((r) => r.rps)), p50: median(rows.map((r) => r.p50)), p99: median(rows.map((r) => r.p99)), cpu: median(rows.map((r) => r.cpuUsPerReq)), errors: rows.reduce((a, r) => a + r.errors, 0), rss: Math.max(...rows.map((r) => r.rssMiB)) } : null;
  };
  const variants = [...new Set(results.load.map((r) => r.variant))];
  out("## Machine");
  out(`${results.machine}`);
  out();
  out("## Small GETs (medians over rounds)");
  out(`| conc | variant | req/s | p50 ms | p99 ms | proxy CPU µs/req | × direct | × bare | × mitmdump | errors |`);
  out(`|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
  results.summary = {};
  for (const c of o.conc) {
    const d = agg(c, "direct");
    const b = agg(c, "bare");
    const m = agg(c, "mitmdump");
    for (const v of variants) {
      const a = agg(c, v);
      if (!a) continue;
      const ratio = (x) => (x ? fmt(a.rps / x.rps) : "n/a");
      out(`| ${c} | ${v} | ${fmt(a.rps, 0)} | ${fmt(a.p50)} | ${fmt(a.p99)} | ${v === "direct" ? "" : fmt(a.cpu, 0)} | ${ratio(d)} | ${ratio(b)} | ${ratio(m)} | ${a.errors} |`);
      results.summary[`${c}|${v}`] = a;
    }
  }
  const kw1 = agg(1, "kubewire");
  const d1 = agg(1, "direct");
  const kw16 = agg(16, "kubewire");
  const b16 = agg(16, "bare");
  const m16 = agg(16, "mitmdump");
  out();
  out("## Targets");
  if (kw16 && m16) out(`- throughput at 16 connections ≥ 2× mitmdump: ${fmt(kw16.rps / m16.rps)}× → ${kw16.rps / m16.rps >= 2 ? "MET" : "MISSED"}`);
  if (kw16 && b16) out(`- throughput at 16 connections ≥ 0.9× bare http-proxy: ${fmt(kw16.rps / b16.rps)}× → ${kw16.rps / b16.rps >= 0.9 ? "MET" : "MISSED"}`);
  if (kw1 && d1) out(`- p50 added over direct at 1 connection < 0.5 ms: ${fmt(kw1.p50 - d1.p50)} ms → ${kw1.p50 - d1.p50 < 0.5 ? "MET" : "MISSED"}`);
  const kwRows = results.load.filter((r) => r.variant === "kubewire");
  if (kwRows.length) {
    const sent = kwRows.reduce((a, r) => a + r.sent, 0);
    const rec = kwRows.reduce((a, r) => a + r.recorded, 0);
    const unequal = kwRows.filter((r) => r.sent !== r.recorded).length;
    const conn = kwRows.reduce((a, r) => a + r.connectionRecords, 0);
    out(`- exchanges recorded = requests sent: ${rec} recorded / ${sent} sent over ${kwRows.length} runs, ${unequal} run(s) unequal → ${unequal === 0 ? "MET" : "MISSED"}${conn ? ` (besides: ${conn} CLIENT_TLS records of connections hey opened and dropped before the TLS handshake ended)` : ""}`);
  }
  if (results.big) {
    const k = results.big.filter((r) => r.variant === "kubewire");
    const dd = results.big.filter((r) => r.variant === "direct");
    const growth = Math.max(...k.map((r) => r.growthMiB));
    out(`- ${o.bigMb} MB list: direct ${fmt(median(dd.map((r) => r.secs)))} s, kubewire ${fmt(median(k.map((r) => r.secs)))} s (×${fmt(median(k.map((r) => r.secs)) / median(dd.map((r) => r.secs)))}); kubewire RSS growth ${fmt(growth, 1)} MiB < 64 → ${growth < 64 ? "MET" : "MISSED"}`);
  }
  if (results.watch) {
    const w = results.watch;
    out(`- ${w.watchers} watches × ${w.seconds} s: ${w.delivered} events delivered of ${w.expected} expected (${w.complete}/${w.watchers} watchers complete); kubewire RSS ${fmt(w.rssIdleMiB, 1)} → peak ${fmt(w.rssPeakMiB, 1)} MiB`);
  }
  for (const k of results.kubectl ?? []) {
    out(`- kubectl get pods (${k.cache} cache) within 10% of direct: median ${fmt(k.direct.medianMs, 1)} → ${fmt(k.kubewire.medianMs, 1)} ms, ×${fmt(k.ratioMedian, 3)} → ${k.ratioMedian <= 1.1 ? "MET" : "MISSED"}`);
  }
  if (results.profileText) {
    out();
    out("## kubewire CPU profile (hey -c 16)");
    out("```");
    out(results.profileText);
    out("```");
  }
}

// ---------------------------------------------------------------- main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), "kubewire-bench-"));
  const procs = [];
  const results = {
    command: `scripts/bench ${process.argv.slice(2).join(" ")}`.trim(),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}, loopback`,
    options: { ...o, skip: [...o.skip] },
    load: [],
  };
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await Promise.all(procs.map((p) => stopProcess(p, 5000)));
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  };
  process.on("SIGINT", () => cleanup().then(() => process.exit(130)));
  process.on("SIGTERM", () => cleanup().then(() => process.exit(143)));
  try {
    const demoKc = join(tmp, "demo.kubeconfig");
    const { proc: clusterProc, info: cluster } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(o.bigMb * 1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
    procs.push(clusterProc);
    const caFile = join(tmp, "demo-ca.crt");
    writeFileSync(caFile, Buffer.from(parseYaml(readFileSync(demoKc, "utf8")).clusters[0].cluster["certificate-authority-data"], "base64"));
    log(`demo cluster ${cluster.url} (pid ${cluster.pid}), temp ${tmp}`);

    const kw = await startKubewire(tmp, "kubewire", demoKc);
    procs.push(kw.proc);
    kw.store = Store.open(kw.db, { readonly: true });
    log(`kubewire ${kw.url} (pid ${kw.pid})`);

    const wanted = new Set(o.variants ?? ["direct", "kubewire", "bare", "bare-node", "mitmdump"]);
    const variants = [];
    if (wanted.has("direct")) variants.push({ name: "direct", url: cluster.url, token: cluster.token });
    if (wanted.has("kubewire")) variants.push({ name: "kubewire", url: kw.url, token: kw.token, pid: kw.pid, store: kw.store });
    for (const [name, impl] of [["bare", "http-proxy"], ["bare-node", "node"]]) {
      if (!wanted.has(name)) continue;
      const { proc, info } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-bare-proxy.mjs"), cluster.url, caFile, join(tmp, "state"), impl], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: name });
      procs.push(proc);
      variants.push({ name, url: info.url, token: cluster.token, pid: proc.pid });
    }
    if (wanted.has("mitmdump")) {
      if (await have("mitmdump")) {
        const port = await freePort();
        const upstreamPort = new URL(cluster.url).port;
        const proc = (await import("node:child_process")).spawn("mitmdump", [
          "--mode", `reverse:https://127.0.0.1:${upstreamPort}`, "--ssl-insecure", "-q", "--listen-host", "127.0.0.1", "--listen-port", String(port),
          "--set", `confdir=${join(tmp, "mitmproxy")}`, "--set", "connection_strategy=lazy",
        ], { stdio: ["pipe", "ignore", "ignore"] });
        procs.push(proc);
        await waitForPort(port);
        variants.push({ name: "mitmdump", url: `https://127.0.0.1:${port}`, token: cluster.token, pid: proc.pid });
      } else log("mitmdump not installed (apt-get install mitmproxy): no mitmdump variant");
    }

    if (!o.skip.has("load")) await loadPhase(o, variants, results, cluster.pid);
    // the other proxies are not needed any more: give their memory and CPU back
    for (const v of variants) if (v.name !== "kubewire" && v.name !== "direct") {
      const p = procs.find((x) => x.pid === v.pid);
      if (p) await stopProcess(p, 5000);
    }
    if (!o.skip.has("big")) await bigPhase(o, cluster, kw, results);
    if (!o.skip.has("watch")) await watchPhase(o, cluster, kw, results);
    if (!o.skip.has("kubectl")) await kubectlPhase(o, tmp, demoKc, kw, results);
    kw.store.close();
    if (!o.skip.has("profile") && o.profileSeconds > 0) await profilePhase(o, tmp, demoKc, results);
    results.elapsedSecs = (Date.now() - started) / 1000;
    report(o, results);
    out();
    out(`(${results.command}: ${fmt(results.elapsedSecs, 0)} s)`);
    if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2));
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
