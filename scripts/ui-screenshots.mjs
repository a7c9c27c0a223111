#!/usr/bin/env node
// Takes the screenshots of the web view kept under docs/ (ui-*.png): a demo cluster, kubectl runs
// through kubewire (403s, an expired certificate, 429s with Retry-After, slow and broken namespaces),
// then Debian's Chromium photographs each view. Needs `npm run build` first.
// Usage: node scripts/ui-screenshots.mjs [OUT_DIR=docs]
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startDemoCluster } from "../dist/demo/cluster.js";
import { writeDemoKubeconfig } from "../dist/demo/kubeconfig.js";
import { startSession } from "../dist/session/recording-session.js";
import { serveUi } from "../dist/cli/commands/ui.js";

const ROOT = resolve(import.meta.dirname, "..");
const out = resolve(process.argv[2] ?? join(ROOT, "docs"));
const dir = mkdtempSync(join(tmpdir(), "kubewire-shots-"));
const kubeconfig = join(dir, "demo.kubeconfig");
const db = join(dir, "shots.db");
const run = (cmd, args) => new Promise((done) => execFile(cmd, args, { timeout: 30_000 }, () => done()));

const cluster = await startDemoCluster();
writeDemoKubeconfig(cluster, kubeconfig);
async function through(context, argsList) {
  const s = await startSession({ kubeconfig, context, listen: { host: "127.0.0.1", port: 0 }, db, stateDir: join(dir, "state"), ephemeralKubeconfig: true, warn: () => {} });
  try {
    for (const args of argsList) await run("/usr/bin/kubectl", ["--kubeconfig", s.kubeconfigPath, "--cache-dir", join(dir, `cache-${context}`), ...args]);
  } finally {
    await s.stop(100);
  }
}
await through("demo-admin", [["get", "pods", "-A"], ["get", "deployments", "-n", "default"], ["get", "pods", "-n", "slow"], ["get", "pods", "-n", "broken"]]);
await through("demo-viewer", [["get", "pods", "-n", "kube-system"], ["get", "secrets", "-n", "default"], ["get", "pods"]]);
await through("demo-expired-cert", [["get", "pods", "--request-timeout=3s"]]);
await through("demo-admin", [["get", "pods", "-n", "throttled", "--request-timeout=6s"]]);
await through("demo-wrong-san", [["get", "pods", "--request-timeout=3s"]]);
await run(process.execPath, [join(ROOT, "bin/kubewire.js"), "flags", "--db", db]); // stores the whole-set kinds (retry-storm, slow)

const ui = await serveUi({ db, kubeconfig, stateDir: join(dir, "state"), warn: () => {} });
const profile = mkdtempSync(join(tmpdir(), "kubewire-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1440, height: 860 },
});
const page = browser.pages()[0] ?? (await browser.newPage());
try {
  await page.goto(ui.url);
  await page.locator('[data-testid="row"]').first().waitFor();
  await page.screenshot({ path: join(out, "ui-list.png") });

  await page.selectOption('select[name="status"]', "403");
  await page.locator('[data-testid="row"][data-status="403"]').first().click();
  await page.locator('[data-testid="flag-forbidden"]').waitFor();
  await page.screenshot({ path: join(out, "ui-detail-forbidden.png") });

  await page.selectOption('select[name="status"]', "");
  await page.selectOption('select[name="flag"]', "x509-expired");
  await page.locator('[data-testid="row"]').first().click();
  await page.locator('[data-testid="chain"]').waitFor();
  await page.locator('[data-testid="chain"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(out, "ui-detail-expired-cert.png") });

  await page.getByRole("button", { name: "Clear" }).click();
  await page.locator(".close").click();
  await page.getByTestId("tab-flags").click();
  await page.locator('[data-testid="flags-view"]').waitFor();
  await page.screenshot({ path: join(out, "ui-flags.png") });

  await page.getByTestId("tab-timeline").click();
  await page.locator('[data-testid="timeline"]').waitFor();
  await page.screenshot({ path: join(out, "ui-timeline.png") });

  await page.getByTestId("tab-stats").click();
  await page.locator('[data-testid="stats"]').waitFor();
  await page.screenshot({ path: join(out, "ui-stats.png") });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await ui.close();
  await cluster.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}
