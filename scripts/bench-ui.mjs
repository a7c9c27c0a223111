#!/usr/bin/env node
// Benchmarks the web view's API on a large recording: the first page of the list (unfiltered and
// filtered), one exchange's detail, the next page by id, flags, and how long a newly recorded
// exchange takes to reach an open event stream. Prints the median and worst of each, in ms.
// Usage: npx tsc -p tsconfig.json && node scripts/gen-recording.mjs /tmp/kw-ui-bench.db 1000000
//        node scripts/bench-ui.mjs /tmp/kw-ui-bench.db [runs=21] [--browser]   (--browser: the page in Chromium too)
import http from "node:http";
import { Store } from "../dist/store/store.js";
import { flagsOf } from "../dist/analyze/lib/engine.js";
import { startUiServer } from "../dist/ui/server.js";

const db = process.argv[2] ?? "/tmp/kw-ui-bench.db";
const runs = Number(/^\d+$/.test(process.argv[3] ?? "") ? process.argv[3] : 21);
const ui = await startUiServer({ db });
const auth = { authorization: `Bearer ${ui.token}` };

function get(path) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    http.get({ host: "127.0.0.1", port: ui.port, path, headers: auth }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode !== 200) return fail(new Error(`${path}: ${res.statusCode} ${Buffer.concat(chunks)}`));
        done({ ms: performance.now() - t0, body: JSON.parse(Buffer.concat(chunks).toString()) });
      });
    }).on("error", fail);
  });
}

async function measure(label, path) {
  const times = [];
  let body;
  for (let i = 0; i < runs; i++) {
    const r = await get(typeof path === "function" ? path(i) : path);
    times.push(r.ms);
    body = r.body;
  }
  const first = times[0];
  times.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} first ${first.toFixed(1).padStart(7)}  median ${times[times.length >> 1].toFixed(1).padStart(7)}  worst ${times[times.length - 1].toFixed(1).padStart(7)}`);
  return body;
}

const meta = (await get("/api/meta")).body;
console.log(`${db}: ${meta.lastId.toLocaleString("en")} exchanges; ${runs} runs each (ms)`);
const page = await measure("first page, 200 rows", "/api/exchanges?limit=200");
await measure("next page by id (before=)", `/api/exchanges?limit=200&before=${page.next}`);
await measure("first page, status=5xx", "/api/exchanges?limit=200&status=5xx");
await measure("first page, verb=list&resource=pods&ns", "/api/exchanges?limit=200&verb=list&resource=pods&namespace=payments");
await measure("one exchange's detail (spread ids)", (i) => `/api/exchanges/${1 + Math.floor(((i + 1) * meta.lastId) / (runs + 1))}`);

// a newly recorded exchange reaching an open event stream
const writer = Store.open(db);
const template = writer.get(meta.lastId);
delete template.id;
const lags = [];
for (let i = 0; i < 5; i++) {
  const lag = await new Promise((done, fail) => {
    let t0 = 0;
    const req = http.get({ host: "127.0.0.1", port: ui.port, path: `/api/events?after=${writer.lastId()}`, headers: auth }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (c) => {
        if (c.startsWith(":") || c.startsWith("retry")) {
          if (!t0) {
            t0 = performance.now();
            writer.insertMany([{ ...template, startedAt: Date.now() }], flagsOf);
          }
          if (!c.includes("event: exchanges")) return;
        }
        if (c.includes("event: exchanges")) {
          req.destroy();
          done(performance.now() - t0);
        }
      });
    });
    req.on("error", (e) => (e.code === "ECONNRESET" ? undefined : fail(e)));
  });
  lags.push(lag);
}
lags.sort((a, b) => a - b);
console.log(`${"recorded → event stream (5 inserts)".padEnd(44)} median ${lags[2].toFixed(1).padStart(7)}  worst ${lags[4].toFixed(1).padStart(7)}`);
writer.close();

// the page itself in Chromium: first rows on screen, then 100,000 rows loaded and scrolled
if (process.argv.includes("--browser")) {
  const { chromium } = await import("playwright-core");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const profile = mkdtempSync(join(tmpdir(), "kubewire-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium", headless: true, viewport: { width: 1400, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(120_000);
    const t0 = performance.now();
    await page.goto(ui.url);
    await page.locator('[data-testid="row"]').first().waitFor();
    console.log(`${"page opened → first rows on screen".padEnd(44)} ${(performance.now() - t0).toFixed(0).padStart(7)} ms`);
    const t1 = performance.now();
    await page.evaluate(async (target) => {
      const box = document.querySelector(".list .scroll");
      const count = () => Number(/^(\d+) shown/.exec(document.querySelector(".foot").textContent)[1]);
      while (count() < target) {
        const before = count();
        box.scrollTop = box.scrollHeight;
        box.dispatchEvent(new Event("scroll"));
        const end = Date.now() + 10_000;
        while (count() === before && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
        if (count() === before) break;
      }
    }, 100_000);
    const loaded = await page.evaluate(() => document.querySelector(".foot").textContent);
    console.log(`${"scrolled until 100,000 rows loaded".padEnd(44)} ${(performance.now() - t1).toFixed(0).padStart(7)} ms (${loaded.split(" ·")[0]})`);
    const frames = await page.evaluate(async () => {
      const box = document.querySelector(".list .scroll");
      const times = [];
      for (let i = 0; i < 120; i++) {
        const t = performance.now();
        box.scrollTop = Math.floor(Math.random() * box.scrollHeight);
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      return { median: times[60], p95: times[114], dom: document.querySelectorAll('[data-testid="row"]').length };
    });
    console.log(`${"random jumps in 100,000 rows (2 frames)".padEnd(44)} median ${frames.median.toFixed(1).padStart(7)}  p95 ${frames.p95.toFixed(1).padStart(7)} ms; ${frames.dom} rows in the DOM`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
await ui.close();
