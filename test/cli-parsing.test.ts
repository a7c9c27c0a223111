// What the query commands make of what people type: times with and without units, status classes,
// durations of zero, --db in a folder that is not there, the same HAR imported twice, a reader that
// closes the pipe, --version and --debug, and tables that say how they are ordered and grouped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { Store } from "../src/store/store.js";
import { debugRequested } from "../src/cli/top-level.js";
import { exchange } from "./fixtures/exchange.js";
import { kubewire, ROOT, run } from "./helpers/world.js";

const DAY = 86_400_000;
let dir: string;
let db: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-parsing-"));
  db = join(dir, "rec.db");
  const store = Store.open(db);
  const now = Date.now();
  store.insertMany([
    exchange({ startedAt: now - 3 * DAY }),
    exchange({ startedAt: now - 3 * DAY + 1, response: { status: 403 } }),
    exchange({ startedAt: now - 2 * DAY, request: { path: "/apis/apps/v1", query: "" }, info: { isResourceRequest: false, verb: "get", apiGroup: "apps", apiVersion: "v1", resource: "", namespace: "" } }),
    exchange({ startedAt: now - 2 * DAY + 1, request: { path: "/apis/batch/v1", query: "" }, info: { isResourceRequest: false, verb: "get", apiGroup: "batch", apiVersion: "v1", resource: "", namespace: "" } }),
    // enough rows that a JSON list overflows a pipe's buffer
    ...Array.from({ length: 400 }, (_, i) => exchange({ startedAt: now - 30 * DAY + i })),
  ]);
  store.close();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const ids = async (args: string[]) => {
  const r = await kubewire(["ls", "--db", db, "-o", "json", ...args]);
  expect(r.stderr).toBe("");
  return (JSON.parse(r.stdout) as Array<{ id: number; status: number }>);
};

describe("kubewire's query commands read what people type", () => {
  it("refuses a --since without a unit, with a hint, instead of reading it as a date", async () => {
    const r = await kubewire(["ls", "--since", "10", "--db", db]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"10" has no unit: say how long ago (10m, 10h, 10d) or give an ISO time');
  });

  it("takes weeks, days and ISO times for --since", async () => {
    expect((await ids(["--since", "2w"])).length).toBe(4);
    expect((await ids(["--since", "1d"])).length).toBe(0);
    expect((await ids(["--since", new Date(Date.now() - 2.5 * DAY).toISOString()])).length).toBe(2);
  });

  it("accepts every status class, 1xx to 5xx", async () => {
    const classes = ["1xx", "2xx", "3xx", "4xx", "5xx"];
    const lists = await Promise.all(classes.map((cls) => ids(["--status", cls])));
    lists.forEach((rows, i) => expect(rows.every((r) => Math.floor(r.status / 100) === i + 1)).toBe(true));
    expect(lists.map((rows) => rows.length)).toEqual([0, 403, 0, 1, 0]);
  });

  it("refuses a zero duration (a timeout or interval of 0)", async () => {
    const cases: [string[], string][] = [
      [["start", "--connect-timeout", "0"], '"0" is not a positive duration'],
      [["replay", "--failed", "--request-timeout", "0s"], '"0s" is not a positive duration'],
      [["tail", "--interval", "0"], '"0" is not a positive duration'],
    ];
    const runs = await Promise.all(cases.map(([args]) => kubewire([...args, "--db", db, "--state-dir", join(dir, "state"), "--kubeconfig", join(dir, "none")])));
    runs.forEach((r, i) => {
      expect(r.stderr).toContain(cases[i][1]);
      expect(r.code).toBe(2);
    });
  });

  it("refuses a --db whose folder does not exist in one line, and creates no folder", async () => {
    const missing = join(dir, "no", "such", "dir");
    const har = join(dir, "empty.har");
    writeFileSync(har, JSON.stringify({ log: { version: "1.2", entries: [] } }));
    const kubeconfig = join(dir, "unreachable.kubeconfig");
    writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n");
    const cases = [["ls"], ["import", "--har", har], ["start", "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0"]];
    const runs = await Promise.all(cases.map((args) => kubewire([...args, "--db", join(missing, "x.db"), "--state-dir", join(dir, "state")])));
    for (const r of runs) {
      expect(r.stderr.split("\n")[0]).toBe(`error: --db ${join(missing, "x.db")}: folder ${missing} does not exist`);
      expect(r.code).toBe(2);
    }
    expect(existsSync(join(dir, "no"))).toBe(false);
  });

  it("imports the same HAR twice without doubling the recording", async () => {
    const har = join(dir, "some.har");
    expect((await kubewire(["export", "--har", har, "--db", db, "--since", "2w"])).code).toBe(0);
    const into = join(dir, "imported.db");
    const first = await kubewire(["import", "--har", har, "--db", into]);
    expect(first.stdout).toMatch(/^imported 4 exchanges as IDs 1-4 /);
    const again = await kubewire(["import", "--har", har, "--db", into]);
    expect(again.stdout).toMatch(/^imported 0 exchanges .*; 4 exchanges were imported before and are not added again\n$/);
    const s = Store.open(into, { readonly: true });
    expect(s.count()).toBe(4);
    s.close();
  });

  it("ends quietly when the reader closes the pipe early", async () => {
    for (const cmd of [`ls -o json --db '${db}'`, `export --jsonl - --db '${db}'`]) {
      const r = await run("sh", ["-c", `'${process.execPath}' bin/kubewire.js ${cmd} | head -1`]);
      expect(r.stdout.split("\n")[0]).toMatch(/^[[{]/);
      expect(r.stderr).not.toMatch(/EPIPE|Error|at /);
    }
  });

  it("prints its version from package.json", async () => {
    const r = await kubewire(["--version"]);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`);
    expect(r.code).toBe(0);
  });

  it("takes --debug as its own only before --", () => {
    expect(debugRequested(["node", "kubewire", "--debug", "ls"])).toBe(true);
    expect(debugRequested(["node", "kubewire", "exec", "--", "kubectl", "--debug"])).toBe(false);
  });

  it("says how ls is ordered, and shows the API group that stats groups by", async () => {
    expect((await kubewire(["ls", "--help"])).stdout).toContain("in the order they started, newest last");
    const stats = (await kubewire(["stats", "--db", db, "--since", "2w"])).stdout.split("\n");
    expect(stats[0]).toMatch(/^VERB\s+GROUP\s+RESOURCE\s+COUNT/);
    expect(stats.find((l) => /^get\s+apps\s+\(non-resource\)/.test(l))).toBeDefined();
    expect(stats.find((l) => /^get\s+batch\s+\(non-resource\)/.test(l))).toBeDefined();
    expect(stats.find((l) => /^list\s+core\s+pods/.test(l))).toBeDefined();
  });
});
