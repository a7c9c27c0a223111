#!/usr/bin/env node
// Durability under SIGKILL (issue 9 item 10), and what the journal costs on the forwarding path.
// For each variant (journal on, KUBEWIRE_JOURNAL=off), alternating in one run:
//   load: `kubewire start` under `hey -z Ns -c C` with the generated kubeconfig's token → req/s, p50, p99,
//         and kubewire's CPU (user+system, all threads) per answered request: steadier than req/s when
//         the 2 cores are shared with other work;
//   kill: the same load, `kill -9` of kubewire after K s → responses hey received (200) against exchanges
//         recorded, counted after the next open of the recording (which loads what the journal kept);
//   record(): CPU per exchange of Recorder.record() alone (no network; the writer idle meanwhile), median.
// Usage: npx tsc -p tsconfig.json && node scripts/bench-durability.mjs [--seconds 5] [--kill-after 3] [--rounds 3] [--conc 16] [--keep]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { Recorder } from "../dist/record/recorder.js";
import { Store } from "../dist/store/store.js";
import { cpuSeconds, fmt, median, parseHey, quiet, run, sleep, spawnReady, stopProcess } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PATH = "/api/v1/namespaces/default/pods/web-1";

function parseArgs(argv) {
  const o = { seconds: 5, killAfter: 3, rounds: 3, conc: 16, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => Number(argv[++i]);
    if (a === "--seconds") o.seconds = num();
    else if (a === "--kill-after") o.killAfter = num();
    else if (a === "--rounds") o.rounds = num();
    else if (a === "--conc") o.conc = num();
    else if (a === "--keep") o.keep = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: node scripts/bench-durability.mjs [--seconds 5] [--kill-after 3] [--rounds 3] [--conc 16] [--keep]\n");
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const VARIANTS = [
  { name: "journal", env: {} },
  { name: "no journal", env: { KUBEWIRE_JOURNAL: "off" } },
];

async function startKubewire(tmp, tag, demoKc, env) {
  const kc = join(tmp, `${tag}.kubeconfig`);
  const db = join(tmp, `${tag}.db`);
  const args = [
    join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0",
    "--db", db, "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc,
  ];
  const { proc, info } = await spawnReady(process.execPath, args, (l) => /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null, {
    label: `kubewire (${tag})`, env: { ...process.env, ...env },
  });
  const token = parseYaml(readFileSync(kc, "utf8")).users[0].user.token;
  return { proc, url: info, token, db };
}

function hey(url, token, conc, seconds) {
  const args = ["-z", `${seconds}s`, "-c", String(conc), "-t", "20", "-H", `Authorization: Bearer ${token}`, url + PATH];
  return run("hey", args, { timeoutMs: (seconds + 60) * 1000 }).then(({ stdout }) => parseHey(stdout));
}

/** Opens the recording as the next start would (loading journal and spill), then counts the benchmark's 200s. */
async function recordedAfterRestart(db) {
  const r = new Recorder({ dbPath: db });
  r.open();
  await r.close();
  const store = Store.open(db, { readonly: true });
  try {
    return store.count({ pathContains: PATH, status: 200 });
  } finally {
    store.close();
  }
}

async function loadRun(tmp, tag, demoKc, v, o, pids) {
  const k = await startKubewire(tmp, tag, demoKc, v.env);
  await quiet([k.proc.pid, ...pids]);
  const cpu0 = cpuSeconds(k.proc.pid);
  const h = await hey(k.url, k.token, o.conc, o.seconds);
  const cpuUs = ((cpuSeconds(k.proc.pid) - cpu0) * 1e6) / Math.max(1, h.statuses["200"] ?? 0);
  await stopProcess(k.proc);
  const store = Store.open(k.db, { readonly: true });
  try {
    return { ...h, cpuUs, sample: store.get(store.lastId()) };
  } finally {
    store.close();
  }
}

async function killRun(tmp, tag, demoKc, v, o) {
  const k = await startKubewire(tmp, tag, demoKc, v.env);
  const load = hey(k.url, k.token, o.conc, o.killAfter + 2);
  await sleep(o.killAfter * 1000);
  k.proc.kill("SIGKILL");
  const h = await load;
  await new Promise((r) => (k.proc.exitCode !== null || k.proc.signalCode !== null ? r() : k.proc.once("exit", r)));
  const answered = h.statuses["200"] ?? 0;
  const recorded = await recordedAfterRestart(k.db);
  return { answered, recorded, lost: answered - recorded };
}

/** CPU seconds of this process's main thread alone (not the SQLite writer thread): /proc/self/task/PID/stat. */
function mainThreadCpu() {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * CPU µs per exchange that recording costs the forwarding thread: Recorder.record() calls plus each
 * batch's encoding and postMessage, 60,000 exchanges shaped like the proxy's after a warm-up, in chunks
 * of 500 as the proxy's batches are; the main thread's CPU only (the writer thread's is its own).
 */
async function recordCost(tmp, tag, journal, base) {
  const db = join(tmp, `${tag}.db`);
  const r = new Recorder({ dbPath: db, journal, batchMs: 100 });
  r.open();
  const warm = 2000;
  const xs = Array.from({ length: 60_000 + warm }, (_, i) => ({ ...structuredClone(base), startedAt: Date.now() + i }));
  for (const x of xs.slice(0, warm)) r.record(x);
  await r.flush();
  const c0 = mainThreadCpu();
  for (let i = warm; i < xs.length; i += 500) {
    for (const x of xs.slice(i, i + 500)) r.record(x);
    await r.flush();
  }
  const spent = mainThreadCpu() - c0;
  await r.close();
  return (spent * 1e6) / (xs.length - warm);
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), "kubewire-durability-"));
  const demoKc = join(tmp, "demo.kubeconfig");
  const { proc: clusterProc, info: cluster } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
  const results = Object.fromEntries(VARIANTS.map((v) => [v.name, { rps: [], p50: [], p99: [], cpuUs: [], kills: [], recordUs: [] }]));
  try {
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        const tag = `${v.name.replace(/\s/g, "-")}-${round}`;
        const h = await loadRun(tmp, `load-${tag}`, demoKc, v, o, [cluster.pid]);
        results[v.name].rps.push(h.rps);
        results[v.name].p50.push(h.p50);
        results[v.name].p99.push(h.p99);
        results[v.name].cpuUs.push(h.cpuUs);
        const k = await killRun(tmp, `kill-${tag}`, demoKc, v, o);
        results[v.name].kills.push(k);
        results[v.name].recordUs.push(await recordCost(tmp, `record-${tag}`, v.name === "journal", { ...h.sample, id: undefined }));
        process.stdout.write(`round ${round + 1} ${v.name.padEnd(10)} ${fmt(h.rps, 0)} req/s p50 ${fmt(h.p50, 2)} ms p99 ${fmt(h.p99, 2)} ms cpu ${fmt(h.cpuUs, 0)} µs/req | kill -9: answered ${k.answered}, recorded ${k.recorded}, lost ${k.lost} | record() ${fmt(results[v.name].recordUs.at(-1), 1)} µs\n`);
      }
    }
    process.stdout.write("\nvariant      req/s (median)  p50 ms  p99 ms  kubewire CPU µs/req  recording µs/exchange  kill -9: lost/answered per round\n");
    for (const v of VARIANTS) {
      const r = results[v.name];
      process.stdout.write(`${v.name.padEnd(12)} ${fmt(median(r.rps), 0).padStart(14)}  ${fmt(median(r.p50), 2).padStart(6)}  ${fmt(median(r.p99), 2).padStart(6)}  ${fmt(median(r.cpuUs), 0).padStart(19)}  ${fmt(median(r.recordUs), 1).padStart(21)}  ${r.kills.map((k) => `${k.lost}/${k.answered}`).join(", ")}\n`);
    }
    const ratio = median(results.journal.rps) / median(results["no journal"].rps);
    const cpuRatio = median(results.journal.cpuUs) / median(results["no journal"].cpuUs);
    process.stdout.write(`journal/no-journal: throughput ×${fmt(ratio, 2)}, kubewire CPU per request ×${fmt(cpuRatio, 2)}\n`);
  } finally {
    await stopProcess(clusterProc);
    if (o.keep) process.stdout.write(`kept ${tmp}\n`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
