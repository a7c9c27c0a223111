// Sources: every exchange says where it was recorded (this machine's host name and the run's id;
// in a pod also the pod, its namespace and the service account). Two runs recording into one
// database are told apart by ls's SOURCE column, flags' SOURCES and --source; old recordings keep none.
import https from "node:https";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrations } from "../src/store/migrations.js";
import { detailJson, exchangeParams } from "../src/store/rows.js";
import { parseSourceSelector, sourceLabel, type SourceSelector } from "../src/store/source-selector.js";
import { Store, type ExchangeRow } from "../src/store/store.js";
import { UserError } from "../src/errors.js";
import type { ExchangeSource } from "../src/types.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
const HOST = hostname();

describe("the --source selector", () => {
  it.each<[string, Partial<SourceSelector>]>([
    ["run=7f3a9c1e", { parts: { run: "7f3a9c1e" }, any: [] }],
    ["host=alice-laptop, run=7f3a9c1e", { parts: { host: "alice-laptop", run: "7f3a9c1e" }, any: [] }],
    ["7f3a9c1e@alice-laptop", { parts: { run: "7f3a9c1e", host: "alice-laptop" }, any: [] }],
    ["7f3a9c1e@shop/operator-5d9c", { parts: { run: "7f3a9c1e", namespace: "shop", pod: "operator-5d9c" }, any: [] }],
    ["sa=shop:operator", { parts: { serviceAccount: "system:serviceaccount:shop:operator" }, any: [] }],
    ["ServiceAccount=system:serviceaccount:shop:operator", { parts: { serviceAccount: "system:serviceaccount:shop:operator" }, any: [] }],
    ["ns=shop,pod=operator-5d9c", { parts: { namespace: "shop", pod: "operator-5d9c" }, any: [] }],
    ["alice-laptop", { parts: {}, any: ["alice-laptop"] }],
    ["host=", { parts: { host: "" }, any: [] }],
  ])("reads %s", (text, expected) => {
    expect(parseSourceSelector(text)).toEqual(expected);
  });

  it.each([
    ["", '--source "": is empty'],
    ["color=red", '--source "color=red": "color" is not a source key'],
    ["run=a,run=b", '--source "run=a,run=b": run is given twice'],
    ["run=a,,host=b", '--source "run=a,,host=b": has an empty term'],
    ["=x", '--source "=x": "=x" has no key'],
  ])("refuses %j in one line that quotes it", (text, message) => {
    let err: unknown;
    try {
      parseSourceSelector(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(message);
    expect((err as UserError).hint).toContain("keys: host, run, pod, namespace/ns, sa/serviceaccount");
  });

  it.each<[ExchangeSource | undefined, string]>([
    [{ host: "alice-laptop", run: "7f3a9c1e" }, "7f3a9c1e@alice-laptop"],
    [{ host: "operator-5d9c", run: "7f3a9c1e", pod: "operator-5d9c", namespace: "shop", serviceAccount: "system:serviceaccount:shop:operator" }, "7f3a9c1e@shop/operator-5d9c"],
    [{ host: "import" }, "import"],
    [undefined, "-"],
  ])("writes %j as %s, which selects it back", (source, label) => {
    expect(sourceLabel(source)).toBe(label);
    if (!source?.run) return;
    const { parts } = parseSourceSelector(label);
    for (const [key, value] of Object.entries(parts)) expect(source[key as keyof ExchangeSource]).toBe(value);
  });
});

describe("a recording made before sources (schema version 4)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kubewire-sources-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A version 4 file as kubewire wrote it then: its migrations, and one in-cluster exchange with the service account in its detail. */
  function version4(path: string): void {
    const raw = new Database(path);
    for (const m of migrations.filter((m) => m.version <= 4)) m.up(raw);
    raw.pragma("user_version = 4");
    const ex = exchange();
    const v4Columns = `started_at, method, path, query, verb, api_group, api_version, resource, subresource, namespace, name, status, duration_ms,
      error_code, error_message, context, cluster_url, kube_user, user_agent, client_address, bytes_in, bytes_out, origin, replay_of, watch_error_code, tls_chain_id`;
    const id = Number(raw.prepare(`INSERT INTO exchanges (${v4Columns}) VALUES (${Array(26).fill("?").join(", ")})`).run(...exchangeParams(ex, null, 0).slice(0, 26)).lastInsertRowid);
    raw.prepare("INSERT INTO exchange_details (exchange_id, detail) VALUES (?, ?)").run(id, JSON.stringify({ ...JSON.parse(detailJson(ex)), serviceAccount: "system:serviceaccount:apps:operator" }));
    raw.close();
    chmodSync(path, 0o600);
  }

  it("migrates with no source on its exchanges; a new run's exchanges beside them make two sources", async () => {
    const path = join(dir, "old.db");
    version4(path);
    const store = Store.open(path);
    try {
      const [old] = store.list();
      expect(old.source).toBeUndefined();
      expect(store.severalSources()).toBe(false);
      // show still names the service account an in-cluster record of version 4 kept
      expect(store.get(old.id)!.source).toEqual({ serviceAccount: "system:serviceaccount:apps:operator" });
      const [fresh] = store.insertMany([exchange({ startedAt: FIXED_START + 1000, source: { host: "alice-laptop", run: "7f3a9c1e" } })]);
      expect(store.severalSources()).toBe(true);
      expect(store.list({ source: parseSourceSelector("host=") }).map((r) => r.id)).toEqual([old.id]);
      expect(store.list({ source: parseSourceSelector("7f3a9c1e@alice-laptop") }).map((r) => r.id)).toEqual([fresh]);
      expect(store.list({ source: parseSourceSelector("alice-laptop") }).map((r) => r.id)).toEqual([fresh]);
    } finally {
      store.close();
    }
    const ls = await kubewire(["ls", "--db", path, "--no-headers"]);
    expect(ls.code).toBe(0);
    const [first, second] = ls.stdout.trimEnd().split("\n").map((l) => l.split(/\s+/));
    expect(first[2]).toBe("-");
    expect(second[2]).toBe("7f3a9c1e@alice-laptop");
  });
});

/** n requests with a wrong proxy token, one connection: what kubewire counts into one aggregated row per client address and minute. */
async function tokenless(url: URL, ca: string, n: number): Promise<void> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  for (let i = 0; i < n; i++) {
    await new Promise<void>((done, fail) => {
      https.request(new URL("/api/v1/pods", url), { agent, headers: { authorization: "Bearer not-the-token" } }, (res) => res.resume().on("end", done)).on("error", fail).end();
    });
  }
  agent.destroy();
}

describe.skipIf(!haveKubectl)("sources of real recordings", () => {
  let world: World;
  let state: string;
  beforeAll(async () => {
    world = await demoWorld();
    state = join(world.dir, "state");
  });
  afterAll(async () => world?.close());

  it("records this machine's host name and the run's id with each request kubectl sends, as ls, show and status say", async () => {
    const db = join(world.dir, "one.db");
    const session = await record(world, "demo-admin", { db });
    let id: number;
    try {
      expect((await kubectl(session.kubeconfigPath, ["get", "pods"])).code).toBe(0);
      expect(session.source).toEqual({ host: HOST, run: expect.stringMatching(/^[0-9a-f]{8}$/) });
      const rows = await recorded(session);
      expect(rows.length).toBeGreaterThan(1);
      for (const { row, ex } of rows) {
        expect(row.source).toEqual(session.source);
        expect(ex.source).toEqual(session.source);
      }
      id = rows.find(({ row }) => row.verb === "list" && row.resource === "pods")!.row.id;
      const status = JSON.parse((await kubewire(["status", "--state-dir", session.stateDir, "-o", "json"])).stdout) as Array<{ pid: number; run: string }>;
      expect(status.find((s) => s.pid === process.pid)?.run).toBe(session.source.run);
    } finally {
      await session.stop(100);
    }
    const page = await kubewire(["show", String(id), "--db", db]);
    expect(page.stdout).toContain(`\nSource:   host ${HOST}  run ${session.source.run}\n`);
    const json = JSON.parse((await kubewire(["show", String(id), "--db", db, "-o", "json"])).stdout);
    expect(json.source).toEqual(session.source);
    // one source: no SOURCE column
    const ls = await kubewire(["ls", "--db", db]);
    expect(ls.stdout.split("\n")[0]).toMatch(/^ID\s+AGE\s+VERB\s+RESOURCE/);
  });

  it("tells two exec runs into one database apart: ls shows SOURCE, --source picks one, flags says where each problem was seen", async () => {
    const db = join(world.dir, "shared.db");
    const exec = (context: string, args: string[]) =>
      kubewire(["exec", "--kubeconfig", world.kubeconfig, "--context", context, "--db", db, "--state-dir", state, "--", KUBECTL, ...args, "--cache-dir", join(world.dir, `cache-${context}`)]);
    expect((await exec("demo-admin", ["get", "pods"])).code).toBe(0);
    const second = await exec("demo-viewer", ["get", "pods", "-n", "kube-system"]);
    expect(second.code).toBe(1);

    const rows = JSON.parse((await kubewire(["ls", "--db", db, "-o", "json"])).stdout) as ExchangeRow[];
    const runs = [...new Set(rows.map((r) => r.source?.run))];
    expect(runs).toHaveLength(2);
    const [run1, run2] = runs as string[];
    const mine = (run: string) => rows.filter((r) => r.source?.run === run).map((r) => r.id);
    // the second run's verdict counts its own requests only, and says how to see them
    expect(second.stderr).toContain(`kubewire: 1 of ${mine(run2).length} request`);
    expect(second.stderr).toContain(`→ npx kubewire flags --db ${db} --source run=${run2}\n`);

    const table = await kubewire(["ls", "--db", db]);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+AGE\s+SOURCE\s+VERB\s+RESOURCE\s+NAMESPACE\/NAME\s+STATUS/);
    const sourceOf = new Map(lines.slice(1).map((l) => [Number(l.split(/\s+/)[0]), l.split(/\s+/)[2]]));
    for (const r of rows) expect(sourceOf.get(r.id)).toBe(`${r.source!.run}@${HOST}`);

    const select = async (selector: string) => (JSON.parse((await kubewire(["ls", "--db", db, "--source", selector, "-o", "json"])).stdout) as ExchangeRow[]).map((r) => r.id);
    expect(await select(`run=${run1}`)).toEqual(mine(run1));
    expect(await select(`${run2}@${HOST}`)).toEqual(mine(run2));
    expect(await select(`host=${HOST}`)).toEqual(rows.map((r) => r.id));
    expect(await select("host=elsewhere")).toEqual([]);
    const bad = await kubewire(["ls", "--db", db, "--source", "colour=red"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n")[0]).toBe('error: --source "colour=red": "colour" is not a source key');

    const flags = await kubewire(["flags", "--db", db]);
    expect(flags.code).toBe(1);
    const [head, ...kinds] = flags.stdout.split("\n\n")[0].split("\n");
    expect(head).toMatch(/^KIND\s+SEVERITY\s+EXCHANGES\s+FIRST SEEN\s+LAST SEEN\s+SOURCES$/);
    expect(kinds.find((l) => l.startsWith("forbidden "))).toMatch(new RegExp(`\\s${run2}@${HOST}$`));
    expect(flags.stdout).toContain(`  Recorded at: ${run2}@${HOST}\n`);
    const json = JSON.parse((await kubewire(["flags", "--db", db, "-o", "json"])).stdout);
    expect(json.find((f: { kind: string }) => f.kind === "forbidden").sources).toEqual([{ host: HOST, run: run2 }]);
    const first = await kubewire(["flags", "--db", db, "--source", `run=${run1}`]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(`No problems found in ${mine(run1).length} recorded exchanges.\n`);

    const stats = JSON.parse((await kubewire(["stats", "--db", db, "--source", `run=${run2}`, "-o", "json"])).stdout) as Array<{ count: number }>;
    expect(stats.reduce((n, g) => n + g.count, 0)).toBe(mine(run2).length);
  });

  it("keeps two runs' requests without the proxy token in two aggregated rows, one per run", async () => {
    const db = join(world.dir, "aggregate.db");
    const a = await record(world, "demo-admin", { db });
    const b = await record(world, "demo-admin", { db, writeKubeconfig: join(world.dir, "b.kubeconfig") });
    try {
      await tokenless(a.client.url, a.client.caPem, 3);
      await a.recorder.flush();
      await tokenless(b.client.url, b.client.caPem, 2);
      await b.recorder.flush();
    } finally {
      await a.stop(100);
      await b.stop(100);
    }
    const store = Store.open(db, { readonly: true });
    try {
      const rows = store.list({ origin: "proxy" }).filter((r) => r.repeat);
      // both in one minute from one address and context: only the source keeps them apart
      if (new Set(rows.map((r) => Math.floor(Date.parse(r.time) / 60_000))).size === 1) {
        expect(rows.map((r) => [r.source?.run, r.repeat!.count])).toEqual([[a.source.run, 3], [b.source.run, 2]]);
      } else {
        expect(rows.reduce((n, r) => n + r.repeat!.count, 0)).toBe(5);
      }
    } finally {
      store.close();
    }
  });
});
