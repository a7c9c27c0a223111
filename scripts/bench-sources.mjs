#!/usr/bin/env node
// Sources on a generated recording: the schema 5 migration of a version 4 file (optional), and what
// --source and the SOURCE columns cost the queries, in one process, next to the same query without them.
// Usage: npx tsc -p tsconfig.json && node scripts/gen-recording.mjs /tmp/kw-src.db 1000000 4 \
//          && node scripts/bench-sources.mjs /tmp/kw-src.db [runs] [version-4-file-to-migrate]
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { Store } from "../dist/store/store.js";
import { parseSourceSelector } from "../dist/store/source-selector.js";
import { diagnose } from "../dist/cli/diagnose.js";

const db = process.argv[2] ?? "/tmp/kw-src.db";
const runs = Number(process.argv[3] ?? 5);
const v4 = process.argv[4];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn) => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

if (v4) {
  const copy = `${v4}.migrating`;
  for (const s of ["", "-wal", "-shm"]) if (existsSync(copy + s)) rmSync(copy + s);
  copyFileSync(v4, copy);
  const ms = time(() => Store.open(copy, { create: false }).close());
  console.log(`migrating ${v4} (schema 4) to 5: ${ms.toFixed(0)} ms`);
  for (const s of ["", "-wal", "-shm"]) if (existsSync(copy + s)) rmSync(copy + s);
}

Store.open(db, { create: false }).close();
const store = Store.open(db, { readonly: true });
const total = store.count();
const first = store.list({ limit: 1 })[0]; // newest: the last run
const oldest = store.list({ ids: [1] })[0]; // the generator writes in time order: the first run
const lastRun = first?.source?.run;
const firstRun = oldest?.source?.run;
const hour = Date.now() - 3_600_000;
const sel = (t) => parseSourceSelector(t);
const cases = [
  ["severalSources()", () => store.severalSources()],
  ["ls --status 403 --since 1h", () => store.list({ status: 403, since: hour })],
  [`ls --status 403 --since 1h --source run=${lastRun}`, () => store.list({ status: 403, since: hour, source: sel(`run=${lastRun}`) })],
  [`ls --status 403 --since 1h --source run=${firstRun} (none)`, () => store.list({ status: 403, since: hour, source: sel(`run=${firstRun}`) })],
  [`ls --source run=${firstRun} --limit 50`, () => store.list({ source: sel(`run=${firstRun}`), limit: 50 })],
  [`count --source host=ci-runner-3`, () => store.count({ source: sel("host=ci-runner-3") })],
  ["web view page of 200, source=run", () => store.pageBefore({ source: sel(`run=${firstRun}`) }, null, 200)],
  ["flagSources() (the SOURCES column)", () => store.flagSources({})],
  ["flags (diagnose, several sources)", () => diagnose(store, {}, { now: Date.now(), credentials: new Map() })],
  [`flags --source run=${lastRun}`, () => diagnose(store, { source: sel(`run=${lastRun}`) }, { now: Date.now(), credentials: new Map() })],
];
console.log(`${total} exchanges in ${db}; median of ${runs} runs after one warm-up\n`);
console.log("| query | in process (ms) | rows |\n|---|---:|---:|");
for (const [name, fn] of cases) {
  const result = fn();
  const ms = median(Array.from({ length: runs }, () => time(fn)));
  const rows = Array.isArray(result) ? result.length : result instanceof Map ? result.size : typeof result === "object" ? result.findings.length : result;
  console.log(`| ${name} | ${ms.toFixed(1)} | ${rows} |`);
}
store.close();
