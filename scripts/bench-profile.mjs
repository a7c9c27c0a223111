#!/usr/bin/env node
// scripts/bench helper: summarises a V8 .cpuprofile (node --cpu-prof): time by area
// (kubewire's dist/, http-proxy, other node_modules, Node internals, GC, idle), the top
// functions by self time, and kubewire's own functions by inclusive time.
// Usage: node scripts/bench-profile.mjs FILE.cpuprofile [TOP]
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const isKubewire = (url) => url.includes("/dist/") && !url.includes("/node_modules/");

function shortUrl(url) {
  if (!url) return "";
  const j = url.lastIndexOf("/node_modules/");
  if (j !== -1) return url.slice(j + "/node_modules/".length);
  const i = url.indexOf("/dist/");
  if (i !== -1) return url.slice(i + 1);
  return url.replace(/^file:\/\//, "");
}

export function area(url, name) {
  if (name === "(garbage collector)") return "GC";
  if (name === "(idle)") return "idle";
  if (name === "(program)") return "(program: native, not attributed)";
  if (url.includes("/node_modules/http-proxy/")) return "http-proxy";
  if (url.includes("/node_modules/")) return "other node_modules";
  if (url.includes("/dist/")) return "kubewire (dist/)";
  if (url.startsWith("node:")) return "Node internals (JS)";
  if (!url) return "native / builtins";
  return "other";
}

/** window: {fromUs, toUs} in the profile's clock (process.hrtime in µs, the same in every process) */
export function summarize(profile, top = 20, window = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => `${n.callFrame.functionName || "(anonymous)"} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const self = new Map();
  const incl = new Map();
  const areas = new Map();
  let total = 0;
  let idle = 0;
  const { samples, timeDeltas } = profile;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if ((window.fromUs && at < window.fromUs) || (window.toUs && at > window.toUs)) continue;
    const dt = (timeDeltas[i] ?? 0) / 1000; // ms
    const n = byId.get(samples[i]);
    if (!n) continue;
    const name = n.callFrame.functionName;
    total += dt;
    if (name === "(idle)") {
      idle += dt;
      continue;
    }
    const k = key(n);
    self.set(k, (self.get(k) ?? 0) + dt);
    const a = area(n.callFrame.url, name);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const m = byId.get(id);
      if (!isKubewire(m.callFrame.url)) continue;
      const mk = key(m);
      if (seen.has(mk)) continue;
      seen.add(mk);
      incl.set(mk, (incl.get(mk) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total,
    busyMs: busy,
    areas: sorted(areas).map(([name, ms]) => ({ name, ms, pct: (100 * ms) / busy })),
    selfTop: sorted(self).slice(0, top).map(([name, ms]) => ({ name, ms, pct: (100 * ms) / busy })),
    kubewireInclusive: sorted(incl).slice(0, top).map(([name, ms]) => ({ name, ms, pct: (100 * ms) / busy })),
  };
}

export function formatSummary(s, requests) {
  const lines = [];
  const per = (ms) => (requests ? `${((ms * 1000) / requests).toFixed(1)} µs/req` : "");
  lines.push(`profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy${requests ? ` over ${requests} requests (${per(s.busyMs)} of CPU on the main thread)` : ""}`);
  lines.push("", "by area (share of busy main-thread time):");
  for (const a of s.areas) lines.push(`  ${a.pct.toFixed(1).padStart(5)}%  ${per(a.ms).padStart(14)}  ${a.name}`);
  lines.push("", "top functions by self time:");
  for (const f of s.selfTop) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${per(f.ms).padStart(14)}  ${f.name}`);
  lines.push("", "kubewire functions by inclusive time (callees included):");
  for (const f of s.kubewireInclusive) lines.push(`  ${f.pct.toFixed(1).padStart(5)}%  ${per(f.ms).padStart(14)}  ${f.name}`);
  return lines.join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [file, top, requests] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: bench-profile.mjs FILE.cpuprofile [TOP] [REQUESTS]\n");
    process.exit(2);
  }
  const s = summarize(JSON.parse(readFileSync(file, "utf8")), Number(top || 20));
  process.stdout.write(formatSummary(s, Number(requests || 0)) + "\n");
}
