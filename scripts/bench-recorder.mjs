#!/usr/bin/env node
// What recording costs per exchange, in process: Recorder alone (journal, batch hand-off, the writer
// thread's SQLite transaction), fed realistic exchanges at a steady rate, CPU per exchange read per
// thread from /proc (the main thread, and every other thread of the process: the writer, libuv, GC).
// The exchanges are real: recorded first by `kubewire start` from small GETs (`hey -h2`) through the
// simulated cluster (scripts/bench-cluster.mjs), then read back; each one recorded is a fresh copy.
// Several builds (--before DIR, repeatable) alternate in every round, all in this one process.
// Usage: npx tsc -p tsconfig.json && node scripts/bench-recorder.mjs [--rates 200,1000,3000] [--seconds 3]
//          [--rounds 3] [--before DIR ...] [--journal off]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import { median, run, spawnReady, stopProcess } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const o = { rates: [200, 1000, 3000], seconds: 3, rounds: 3, builds: [ROOT], journal: true };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (a === "--rates") o.rates = v.split(",").map(Number);
  else if (a === "--seconds") o.seconds = Number(v);
  else if (a === "--rounds") o.rounds = Number(v);
  else if (a === "--before") o.builds.push(resolve(v));
  else if (a === "--journal") o.journal = v !== "off";
  else throw new Error(`unknown option ${a}`);
}
const log = (l) => process.stderr.write(`bench-recorder: ${l}\n`);
const tmp = mkdtempSync(join(tmpdir(), "kubewire-bench-recorder-"));
const TICK = 100; // USER_HZ on Linux

/** CPU seconds of this process's threads: [main thread, all the others]. */
function threadCpu() {
  let main = 0, others = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    } catch {
      continue; // a thread that just ended
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const s = (Number(f[11]) + Number(f[12])) / TICK;
    if (Number(tid) === process.pid) main += s;
    else others += s;
  }
  return [main, others];
}

/** Small GETs through `kubewire start` (h2 on both legs), read back as the exchanges the proxy built. */
async function realExchanges() {
  const demoKc = join(tmp, "demo.kubeconfig");
  const { proc: cluster } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
  const kc = join(tmp, "kw.kubeconfig");
  const db = join(tmp, "seed.db");
  const { proc: kw, info: url } = await spawnReady(
    process.execPath,
    [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0", "--db", db, "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc],
    (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null,
    { label: "kubewire" },
  );
  const token = parseYaml(readFileSync(kc, "utf8")).users[0].user.token;
  await run("hey", ["-h2", "-n", "64", "-c", "4", "-H", `Authorization: Bearer ${token}`, `${url}/api/v1/namespaces/default/pods/web-1`]);
  await stopProcess(kw);
  await stopProcess(cluster);
  const { Store } = await import(pathToFileURL(join(ROOT, "dist/store/store.js")).href);
  const store = Store.open(db, { readonly: true });
  const exchanges = [...store.iterate({})].map((ex) => ({ ...ex, id: undefined }));
  store.close();
  if (exchanges.length < 32) throw new Error(`only ${exchanges.length} exchanges recorded`);
  return exchanges;
}

const seeds = await realExchanges();
log(`${seeds.length} real exchanges, ${JSON.stringify(seeds[0]).length} bytes of JSON each`);
const builds = await Promise.all(
  o.builds.map(async (root) => ({
    root,
    Recorder: (await import(pathToFileURL(join(root, "dist/record/recorder.js")).href)).Recorder,
    flagsOf: (await import(pathToFileURL(join(root, "dist/analyze/lib/engine.js")).href)).flagsOf,
  })),
);

/** n fresh exchanges (as the proxy makes one object per request), times spread as a steady rate would. */
function copies(n, rate) {
  const t0 = Date.now();
  return Array.from({ length: n }, (_, i) => ({ ...structuredClone(seeds[i % seeds.length]), startedAt: t0 + Math.floor((i * 1000) / rate) }));
}

/** Feeds `rate` exchanges a second for o.seconds through record (every 2 ms, catching up), then waits for done(). */
async function feed(exchanges, rate, record, done) {
  const t0 = performance.now();
  let sent = 0;
  await new Promise((finished) => {
    const step = () => {
      const due = Math.min(Math.floor(((performance.now() - t0) * rate) / 1000), exchanges.length);
      while (sent < due) record(exchanges[sent++]);
      if (sent < exchanges.length) setTimeout(step, 2);
      else finished();
    };
    step();
  });
  await done();
}

async function measure(build, rate, round) {
  const n = Math.round(rate * o.seconds);
  const dir = join(tmp, `r${round}-${rate}-${builds.indexOf(build)}`);
  mkdirSync(dir);
  const rec = new build.Recorder({ dbPath: join(dir, "kw.db"), flagsOf: build.flagsOf, journal: o.journal });
  rec.open();
  for (const ex of copies(20, rate)) rec.record(ex); // starts the writer thread, outside the measurement
  await rec.flush();
  const exchanges = copies(n, rate);
  // the same feeding without a recorder: what the loop itself costs
  const [bm0] = threadCpu();
  await feed(copies(n, rate), rate, () => undefined, async () => undefined);
  const [bm1] = threadCpu();
  const [m0, w0] = threadCpu();
  await feed(exchanges, rate, (ex) => rec.record(ex), () => rec.flush());
  const [m1, w1] = threadCpu();
  const stats = await rec.close();
  if (stats.written !== n + 20 || stats.dropped || stats.spilled) throw new Error(`written ${stats.written} of ${n + 20}: ${JSON.stringify(stats)}`);
  rmSync(dir, { recursive: true, force: true });
  const us = (s) => (s * 1e6) / n;
  return { main: us(m1 - m0 - (bm1 - bm0)), writer: us(w1 - w0) };
}

const results = new Map();
for (let round = 1; round <= o.rounds; round++) {
  for (const rate of o.rates) {
    for (const build of round % 2 ? builds : [...builds].reverse()) {
      const r = await measure(build, rate, round);
      const key = `${build.root}|${rate}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(r);
      log(`round ${round} ${build.root} ${rate}/s: main ${r.main.toFixed(0)} µs, other threads ${r.writer.toFixed(0)} µs per exchange`);
    }
  }
}
console.log(`\nRecorder alone, ${seeds.length} real exchanges recycled, journal ${o.journal ? "on" : "off"}, ${o.seconds} s per rate, median of ${o.rounds} rounds (CPU µs per exchange)\n`);
console.log("| build | exchanges/s | main thread | other threads (writer) | total |\n|---|---:|---:|---:|---:|");
for (const build of builds) {
  for (const rate of o.rates) {
    const rs = results.get(`${build.root}|${rate}`);
    const m = median(rs.map((r) => r.main)), w = median(rs.map((r) => r.writer)), t = median(rs.map((r) => r.main + r.writer));
    console.log(`| ${build.root} | ${rate} | ${m.toFixed(0)} | ${w.toFixed(0)} | ${t.toFixed(0)} |`);
  }
}
rmSync(tmp, { recursive: true, force: true });
