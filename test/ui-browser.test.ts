// The web view in a real browser (Debian's Chromium driven by playwright-core), used as a
// developer would: kubectl runs through kubewire while the page is open, rows arrive live, a 403
// is opened, its RBAC fix copied and the request replayed as an allowed identity; an expired
// certificate shows its chain; a hostile body stays text; the API refuses strangers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { demoWorld, kubectl, record, ROOT, type World } from "./helpers/world.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { serveUi } from "../src/cli/commands/ui.js";
import type { UiServer } from "../src/ui/server.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`\n*** SKIPPING the web view's browser tests: ${CHROMIUM} is missing (apt-get install -y chromium) ***\n`);
}

describe.skipIf(!haveChromium)("kubewire ui in Chromium", () => {
  let world: World;
  let db: string;
  let viewer: RecordingSession;
  let ui: UiServer;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const rows = () => page.locator('[data-testid="row"]');
  /** Waits until the list shows rows and every one has the status, flag or method and path asked for (the filter is applied). */
  const rowsAre = (want: { status?: string; flag?: string; method?: string; path?: string }) =>
    page.waitForFunction((w) => {
      const r = [...document.querySelectorAll<HTMLElement>('[data-testid="row"]')];
      const text = (row: HTMLElement, c: string) => row.querySelector(c)?.textContent ?? "";
      return r.length > 0 && r.every((row) =>
        (w.status === undefined || row.dataset.status === w.status) &&
        (w.flag === undefined || text(row, ".c-flags").includes(w.flag)) &&
        (w.method === undefined || text(row, ".c-method") === w.method) &&
        (w.path === undefined || text(row, ".c-path").includes(w.path)));
    }, want);

  /** Runs kubectl through a short recording session of another context, into the same recording. */
  async function through(context: string, args: string[]): Promise<void> {
    const s = await record(world, context, { db });
    try {
      await kubectl(s.kubeconfigPath, args);
    } finally {
      await s.stop(100);
    }
  }

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, "ui/build.mjs")]);
    world = await demoWorld();
    db = join(world.dir, "ui.db");
    viewer = await record(world, "demo-viewer", { db });
    ui = await serveUi({ db, kubeconfig: world.kubeconfig, stateDir: join(world.dir, "state"), warn: () => undefined });
    profile = mkdtempSync(join(tmpdir(), "kubewire-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1400, height: 900 },
    });
    await browser.grantPermissions(["clipboard-read", "clipboard-write"], { origin: ui.origin });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.close();
    await viewer?.stop(100);
    await world?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it("opens from the printed URL, drops the token from the address bar, and shows kubectl's requests as they happen", async () => {
    await page.goto(ui.url);
    expect(page.url()).toBe(`${ui.origin}/`);
    await page.locator(".live.on").waitFor();
    expect(await rows().count()).toBe(0);
    await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"]);
    await page.locator('[data-testid="row"][data-status="403"]').first().waitFor();
    expect(await rows().count()).toBeGreaterThan(1); // discovery came first
  });

  it("filters to 403, opens one with the keyboard, and copies the RBAC fix", async () => {
    await page.keyboard.press("/");
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe("q");
    await page.keyboard.press("Escape");
    await page.selectOption('select[name="status"]', "403");
    await rowsAre({ status: "403" });
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    await page.keyboard.press("Enter");
    const flag = page.locator('[data-testid="flag-forbidden"]');
    await flag.waitFor();
    expect(await flag.innerText()).toContain('User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"');
    const fix = await flag.locator("pre").innerText();
    await flag.getByRole("button", { name: "Copy fix" }).click();
    await flag.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(fix);
  });

  it("replays the forbidden request as an allowed identity and shows 403 before, 200 after, side by side", async () => {
    const detail = page.locator('[data-testid="detail"]');
    await detail.locator('input[name="replay-context"]').fill("demo-admin");
    await detail.getByRole("button", { name: "Replay" }).click();
    const result = detail.locator('[data-testid="replay-result"]');
    await result.waitFor({ timeout: 30_000 });
    expect(await result.innerText()).toContain("now succeeds");
    expect(await detail.locator('[data-testid="replay-before"] .badge').innerText()).toBe("403");
    expect(await detail.locator('[data-testid="replay-after"] .badge').innerText()).toBe("200");
  });

  it("draws an expired upstream certificate's validity bar as expired at the time it was recorded", async () => {
    await page.getByRole("button", { name: "Clear" }).click();
    await through("demo-expired-cert", ["get", "pods", "--request-timeout=5s"]);
    await page.selectOption('select[name="flag"]', "x509-expired");
    await rowsAre({ flag: "x509-expired" });
    await rows().first().click();
    const chain = page.locator('[data-testid="chain"]');
    await chain.waitFor();
    await chain.locator('[data-testid="validity-expired"]').first().waitFor();
    expect(await chain.innerText()).toContain("EXPIRED when recorded");
    expect(await page.locator('[data-testid="waterfall"] .phase.failed .pname').innerText()).toBe("tls");
    // no response from the API server: the badge and a section of their own say what kubewire answered kubectl
    expect(await page.locator('[data-testid="detail"] h2 .badge').innerText()).toBe("kubewire answered 502");
    expect(await page.locator('[data-testid="proxy-answer"]').innerText()).toContain("kubewire: cannot reach the API server");
  });

  it("shows a hostile body as text: no script runs and no image is made", async () => {
    await page.getByRole("button", { name: "Clear" }).click();
    const hostile = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;
    await through("demo-admin", ["create", "configmap", "hostile", "-n", "default", `--from-literal=a=${hostile}`, "--validate=false"]);
    await page.fill('input[name="q"]', "configmaps");
    await page.fill('input[name="verb"]', "create");
    await page.keyboard.press("Enter");
    await rowsAre({ method: "POST", path: "configmaps" });
    await rows().first().click();
    const bodies = page.locator('[data-testid="detail"] [data-testid="body"]');
    // the detail fills in after the click: wait until a body shows the script as text (the test times out if none does)
    await bodies.filter({ hasText: "<script>window.__pwned=1</script>" }).first().waitFor();
    expect((await bodies.allInnerTexts()).join("\n")).toContain("<script>window.__pwned=1</script>");
    expect(await page.locator('[data-testid="detail"] img, [data-testid="detail"] script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("refuses API calls without the token or from another origin, and with a foreign Host header", async () => {
    const status = (headers: Record<string, string>) =>
      new Promise<number>((done, fail) => http.get({ host: "127.0.0.1", port: ui.port, path: "/api/exchanges", headers }, (res) => { res.resume(); done(res.statusCode!); }).on("error", fail));
    expect(await status({})).toBe(401);
    expect(await status({ authorization: `Bearer ${ui.token}`, host: "rebind.example" })).toBe(421);
    // the page's own origin may call it; a page on another origin (localhost is another origin than 127.0.0.1) may not read it
    expect(await page.evaluate(async () => (await fetch("/api/meta")).status)).toBe(200);
    const foreign = await page.evaluate(async (url) => fetch(url).then((r) => `read ${r.status}`, (e) => `blocked: ${e.name}`), `http://localhost:${ui.port}/api/meta`);
    expect(foreign).toBe("blocked: TypeError");
  });
});
