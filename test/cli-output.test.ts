// Output habits of kubectl users: -o name, -o yaml where -o json exists, -w beside -f, tables that
// fit the terminal, and a summary table on top of flags.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { Store } from "../src/store/store.js";
import { flagsOf } from "../src/analyze/lib/engine.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { kubewire } from "./helpers/world.js";

let dir: string;
let db: string;
let kubeconfig: string;
const LONG = `/apis/${"very-long-group-name.example.com".repeat(3)}/v1/namespaces/default/widgets`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-output-"));
  db = join(dir, "rec.db");
  const store = Store.open(db);
  store.insertMany(
    [
      exchange({ startedAt: FIXED_START }),
      exchange({ startedAt: FIXED_START + 1, response: { status: 403 } }),
      exchange({ startedAt: FIXED_START + 2, request: { path: LONG }, info: { resource: "widgets", apiGroup: "very-long-group-name.example.com".repeat(3), name: "x".repeat(60) } }),
    ],
    flagsOf,
  );
  store.close();
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: kind-dev, context: {cluster: c, user: u}}]\ncurrent-context: kind-dev\n");
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("output as kubectl users expect it", () => {
  it("prints exchange/ID per line with ls -o name, and the kinds found with flags -o name", async () => {
    const [ls, flags] = await Promise.all([kubewire(["ls", "--db", db, "-o", "name"]), kubewire(["flags", "--db", db, "-o", "name"])]);
    expect(ls.stdout).toBe("exchange/1\nexchange/2\nexchange/3\n");
    expect(flags.stdout.split("\n")).toContain("forbidden");
    expect(flags.stdout).toMatch(/^([a-z0-9-]+\n)+$/);
  });

  it("fits ls to the terminal width, cutting the free-text columns", async () => {
    const whole = await kubewire(["ls", "--db", db]);
    expect(Math.max(...whole.stdout.split("\n").map((l) => l.length))).toBeGreaterThan(120);
    const fitted = await kubewire(["ls", "--db", db], { env: { COLUMNS: "100" } });
    const lines = fitted.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(100);
    expect(lines[3]).toMatch(/^3 +\S+ +list +widgets\.very-long\S*… +default\/x+… +200 /);
  });

  it("takes -w as --follow", async () => {
    const r = await kubewire(["ls", "--db", db, "-w", "--stop-after", "300ms", "-o", "json"]);
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual([1, 2, 3]);
  });

  it("puts a summary table on top of flags", async () => {
    const r = await kubewire(["flags", "--db", db]);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^KIND +SEVERITY +EXCHANGES +FIRST SEEN +LAST SEEN$/);
    expect(lines[1]).toMatch(/^forbidden +error +1 +2025-01-15T10:00:00.001Z +2025-01-15T10:00:00.001Z$/);
    expect(r.stdout).toContain("\nforbidden  ERROR  1 exchange");
  });

  it("prints -o yaml where -o json exists: replay and doctor", async () => {
    const [replay, doctor] = await Promise.all([
      kubewire(["replay", "1", "--dry-run", "--db", db, "--kubeconfig", kubeconfig, "-o", "yaml"]),
      kubewire(["doctor", "--kubeconfig", kubeconfig, "--timeout", "1s", "--state-dir", join(dir, "state"), "--db", join(dir, "doctor.db"), "-o", "yaml"]),
    ]);
    expect(parse(replay.stdout)).toMatchObject({ dryRun: true, wouldSend: [{ id: 1, context: "kind-dev", sameServer: true }] });
    expect(parse(doctor.stdout)).toMatchObject({ ok: false, context: "kind-dev", steps: expect.any(Array) });
  });
});
