#!/usr/bin/env node
// Issue 12's overhead figure: what an open web view costs the proxy. Small GETs (hey, 8 connections)
// through `kubewire start` (recording) and through `kubewire start --ui` with the page's live event
// stream (/api/events) open and reading, the two alternating in each round; the ratio of medians.
// Usage: npx tsc -p tsconfig.json && node scripts/bench-ui-overhead.mjs [--seconds 4] [--rounds 5]
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { median, parseHey, run, spawnReady, stopProcess } from "./bench-lib.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = opt("seconds", 4);
const ROUNDS = opt("rounds", 5);
const tmp = mkdtempSync(join(tmpdir(), "kubewire-bench-ui-"));
const procs = [];
try {
  const demoKc = join(tmp, "demo.kubeconfig");
  const { proc: clusterProc } = await spawnReady(process.execPath, [join(ROOT, "scripts/bench-cluster.mjs"), demoKc, String(1024 * 1024)], (l) => (l.startsWith("{") ? JSON.parse(l) : null), { label: "demo cluster" });
  procs.push(clusterProc);
  const variants = [];
  for (const [name, extra] of [["recording", []], ["recording + web view open", ["--ui"]]]) {
    const kc = join(tmp, `${variants.length}.kubeconfig`);
    let uiUrl = null;
    let proxyUrl = null;
    const { proc, info: url } = await spawnReady(
      process.execPath,
      [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", demoKc, "--listen", "127.0.0.1:0", "--db", join(tmp, `${variants.length}.db`), "--state-dir", join(tmp, "state"), "--write-kubeconfig", kc, ...extra],
      (l) => {
        uiUrl ??= /web view: (http:\/\/\S+)/.exec(l)?.[1] ?? null;
        proxyUrl ??= /listening on (https:\/\/\S+)/.exec(l)?.[1] ?? null;
        return proxyUrl && (extra.length === 0 || uiUrl) ? proxyUrl : null;
      },
      { label: name },
    );
    procs.push(proc);
    if (uiUrl) {
      // the page's live stream, read as a browser would, for the whole run
      const u = new URL(uiUrl);
      http.get(`${u.origin}/api/events`, { headers: { authorization: `Bearer ${u.searchParams.get("token")}` } }, (res) => res.resume()).on("error", () => undefined);
    }
    variants.push({ name, url: `${url}/api/v1/namespaces/default/pods/web-1`, token: parseYaml(readFileSync(kc, "utf8")).users[0].user.token, rps: [] });
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of r % 2 ? [...variants].reverse() : variants) {
      const { stdout } = await run("hey", ["-z", `${SECONDS}s`, "-c", "8", "-H", `Authorization: Bearer ${v.token}`, v.url]);
      v.rps.push(parseHey(stdout).rps);
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}: ${variants.map((v) => `${v.name} ${v.rps.at(-1).toFixed(0)} req/s`).join(", ")}\n`);
  }
  const base = median(variants[0].rps);
  console.log(`| variant | req/s (median of ${ROUNDS} × ${SECONDS} s, hey -c 8) | vs recording |`);
  console.log("|---|---:|---:|");
  for (const v of variants) console.log(`| ${v.name} | ${median(v.rps).toFixed(0)} | ${(median(v.rps) / base).toFixed(2)}× |`);
} finally {
  for (const p of procs.reverse()) await stopProcess(p);
  rmSync(tmp, { recursive: true, force: true });
}
