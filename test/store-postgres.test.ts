// A shared PostgreSQL store, as a team uses it: two kubewire processes recording into one database at once,
// then ls, flags and stats over both; credentials from the URL, PGPASSWORD or ~/.pgpass, and never printed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg_ from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { Recorder } from "../src/record/recorder.js";
import { PG_LATEST_VERSION } from "../src/store/pg-schema.js";
import { parseDbSpec } from "../src/store/db-spec.js";
import { Store } from "../src/store/store.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { demoWorld, kubewire, KUBECTL, type World } from "./helpers/world.js";
import { havePostgres, PG_PASSWORD, startPostgres, type PgServer } from "./helpers/postgres.js";

const { Client } = pg_;

describe.skipIf(!havePostgres)("a shared PostgreSQL store", () => {
  let pg: PgServer;
  let world: World;
  let home: string;
  beforeAll(async () => {
    [pg, world] = await Promise.all([startPostgres(), demoWorld()]);
    home = mkdtempSync(join(tmpdir(), "kubewire-pg-home-"));
  }, 120_000);
  afterAll(async () => {
    pg?.stop();
    await world?.close();
    rmSync(home, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => {
    const { PGPASSWORD: _, PGPASSFILE: __, ...rest } = process.env;
    return { ...rest, KUBEWIRE_HOME: join(home, "state"), HOME: home };
  };

  it("takes two processes recording at the same time, and answers ls, flags and stats over both", async () => {
    const url = await pg.newDatabase();
    const loop = (context: string, args: string) => kubewire(
      ["exec", "--kubeconfig", world.kubeconfig, "--context", context, "--db", url, "--state-dir", join(home, context), "--",
        "/bin/sh", "-c", `for i in 1 2 3 4 5; do ${KUBECTL} ${args} --cache-dir ${join(home, `cache-${context}`)} >/dev/null 2>&1; done; true`],
      { env: env(), timeoutMs: 120_000 },
    );
    const [admin, viewer] = await Promise.all([loop("demo-admin", "get pods"), loop("demo-viewer", "get pods -n kube-system")]);
    for (const r of [admin, viewer]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/recorded \d+ exchanges into postgres:\/\/kw:\*\*\*@127\.0\.0\.1:\d+\/kw_\d+_\d+\n/);
      expect(r.stdout + r.stderr).not.toContain(PG_PASSWORD);
    }
    const recorded = (r: { stderr: string }) => Number(/recorded (\d+) exchanges/.exec(r.stderr)![1]);

    const ls = await kubewire(["ls", "--db", url, "-o", "json"], { env: env() });
    expect(ls.code).toBe(0);
    const rows = JSON.parse(ls.stdout) as Array<{ id: number; context: string; status: number | null; time: string }>;
    const items = Array.isArray(rows) ? rows : (rows as unknown as { items: typeof rows }).items;
    expect(items.length).toBe(recorded(admin) + recorded(viewer));
    expect(new Set(items.map((r) => r.id)).size).toBe(items.length);
    expect(new Set(items.map((r) => r.context))).toEqual(new Set(["demo-admin", "demo-viewer"]));
    const times = items.map((r) => r.time);
    expect(times).toEqual([...times].sort());
    expect(items.filter((r) => r.context === "demo-viewer" && r.status === 403).length).toBeGreaterThanOrEqual(5);

    const forbidden = await kubewire(["ls", "--db", url, "--status", "403", "-o", "json"], { env: env() });
    const f = JSON.parse(forbidden.stdout);
    expect((Array.isArray(f) ? f : f.items).every((r: { context: string }) => r.context === "demo-viewer")).toBe(true);

    const flags = await kubewire(["flags", "--db", url], { env: env() });
    expect(flags.code).toBe(1);
    expect(flags.stdout).toMatch(/requests? forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"/);

    const stats = await kubewire(["stats", "--db", url], { env: env() });
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/demo-admin\s+list\s+core\s+pods\s+5\s+0 /);
    expect(stats.stdout).toMatch(/demo-viewer\s+list\s+core\s+pods\s+5\s+5 /);
    expect(ls.stdout + flags.stdout + flags.stderr + stats.stdout).not.toContain(PG_PASSWORD);

    // each process is its own source: ls shows SOURCE, --source picks one run's rows, flags says where
    const runOf = new Map((items as Array<{ context: string; source?: { run?: string } }>).map((r) => [r.context, r.source?.run]));
    expect(new Set(runOf.values()).size).toBe(2);
    for (const r of items as Array<{ context: string; source?: { run?: string; host?: string } }>) expect(r.source?.run).toBe(runOf.get(r.context));
    const table = await kubewire(["ls", "--db", url], { env: env() });
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+AGE\s+SOURCE\s/);
    const picked = JSON.parse((await kubewire(["ls", "--db", url, "--source", `run=${runOf.get("demo-viewer")}`, "-o", "json"], { env: env() })).stdout);
    const pickedRows = (Array.isArray(picked) ? picked : picked.items) as Array<{ context: string }>;
    expect(pickedRows.length).toBe(recorded(viewer));
    expect(pickedRows.every((r) => r.context === "demo-viewer")).toBe(true);
    expect(flags.stdout.split("\n")[0]).toMatch(/\sSOURCES$/);
    expect(flags.stdout).toContain(`${runOf.get("demo-viewer")}@`);

    // the other readers: one exchange, the export, the tail's backlog
    const forbiddenId = items.find((r) => r.status === 403)!.id;
    const show = await kubewire(["show", String(forbiddenId), "--db", url, "-o", "json"], { env: env() });
    expect(JSON.parse(show.stdout)).toMatchObject({ id: forbiddenId, context: "demo-viewer", response: { status: 403 } });
    const exported = await kubewire(["export", "--db", url, "--jsonl", "-"], { env: env() });
    expect(exported.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(items.map((r) => r.id));
    const tail = await kubewire(["tail", "--db", url, "--backlog", "3", "--stop-after", "1s", "-o", "json"], { env: env() });
    expect(tail.stdout.trim().split("\n").map((l) => JSON.parse(l).id)).toEqual(items.slice(-3).map((r) => r.id));
  }, 300_000);

  it("pushes a local recording once: pushing again adds nothing, and flags come along", async () => {
    const url = await pg.newDatabase();
    const local = join(home, "local.db");
    const rec = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--context", "demo-viewer", "--db", local, "--state-dir", join(home, "push-state"), "--",
      KUBECTL, "get", "pods", "-n", "kube-system", "--cache-dir", join(home, "cache-push")], { env: env() });
    expect(rec.stderr).toMatch(/recorded \d+ exchanges/);
    const localRows = JSON.parse((await kubewire(["ls", "--db", local, "-o", "json"], { env: env() })).stdout);
    const n = (Array.isArray(localRows) ? localRows : localRows.items).length;

    const first = await kubewire(["push", "--db", local, "--to", url], { env: env() });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^pushed ${n} exchanges from ${local.replace(/[.]/g, "\\.")} to postgres://kw:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/kw_\\d+_\\d+ as IDs 1-${n}\n$`));
    const again = await kubewire(["push", "--db", local, "--to", url], { env: env() });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^pushed 0 exchanges from .* to postgres://kw:\\*\\*\\*@[^ ]+; ${n} exchanges were pushed before and are not added again\n$`));
    expect(first.stdout + first.stderr + again.stdout + again.stderr).not.toContain(PG_PASSWORD);

    const shared = JSON.parse((await kubewire(["ls", "--db", url, "-o", "json"], { env: env() })).stdout);
    const sharedRows = Array.isArray(shared) ? shared : shared.items;
    const localList = Array.isArray(localRows) ? localRows : localRows.items;
    const strip = (r: Record<string, unknown>) => ({ ...r, id: undefined });
    expect(sharedRows.map(strip)).toEqual(localList.map(strip));
    expect(sharedRows.some((r: { flags: string[] }) => r.flags.includes("forbidden"))).toBe(true);

    // more recorded locally later: only that goes up
    await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--context", "demo-viewer", "--db", local, "--state-dir", join(home, "push-state"), "--",
      KUBECTL, "get", "pods", "-n", "kube-system", "--cache-dir", join(home, "cache-push")], { env: env() });
    const third = await kubewire(["push", "--db", local, "--to", url], { env: env() });
    expect(third.stdout).toMatch(new RegExp(`; ${n} exchanges were pushed before`));
    const all = JSON.parse((await kubewire(["ls", "--db", url, "-o", "json"], { env: env() })).stdout);
    const allLocal = JSON.parse((await kubewire(["ls", "--db", local, "-o", "json"], { env: env() })).stdout);
    expect((Array.isArray(all) ? all : all.items).length).toBe((Array.isArray(allLocal) ? allLocal : allLocal.items).length);
  }, 180_000);

  it("takes the password from PGPASSWORD or ~/.pgpass when the URL has none, and says so when none is found", async () => {
    const url = await pg.newDatabase();
    const bare = url.replace(`:${encodeURIComponent(PG_PASSWORD)}@`, "@");
    const seeded = await kubewire(["ls", "--db", bare], { env: { ...env(), PGPASSWORD: PG_PASSWORD } });
    expect(seeded.code).toBe(2);
    expect(seeded.stderr).toMatch(/^error: no recording at postgres:\/\/kw@127\.0\.0\.1:\d+\/kw_\d+_\d+\n/);

    const none = await kubewire(["ls", "--db", bare], { env: env() });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: cannot connect to postgres:\/\/kw@127\.0\.0\.1:\d+\/kw_\d+_\d+: the server asks for a password and none was given\nhint: the password comes from the URL, PGPASSWORD or ~\/\.pgpass\n$/);

    const passHome = mkdtempSync(join(tmpdir(), "kubewire-pgpass-"));
    writeFileSync(join(passHome, ".pgpass"), `127.0.0.1:${pg.port}:*:kw:${PG_PASSWORD}\n`, { mode: 0o600 });
    const viaFile = await kubewire(["ls", "--db", bare], { env: { ...env(), HOME: passHome } });
    rmSync(passHome, { recursive: true, force: true });
    expect(viaFile.stderr).toMatch(/^error: no recording at /);

    const wrong = await kubewire(["ls", "--db", url.replace(encodeURIComponent(PG_PASSWORD), "not-the-password")], { env: env() });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: cannot connect to postgres:\/\/kw:\*\*\*@127\.0\.0\.1:\d+\/kw_\d+_\d+: password authentication failed for user "kw"\n/);
    expect(wrong.stderr).not.toContain("not-the-password");
  }, 120_000);
});

describe.skipIf(!havePostgres)("recording into PostgreSQL when the server goes away", () => {
  let pg: PgServer;
  let dir: string;
  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "kubewire-pg-spill-"));
  }, 60_000);
  afterAll(() => {
    pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a database whose schema is newer than this build, or whose meta table is not kubewire's", async () => {
    const newer = await pg.newDatabase();
    Store.open(parseDbSpec(newer).url).close();
    const admin = new Client({ connectionString: newer });
    await admin.connect();
    await admin.query("INSERT INTO schema_migrations (version, description) VALUES (99, 'from a later kubewire')");
    await admin.end();
    expect(() => Store.open(newer, { readonly: true })).toThrow(UserError);
    expect(() => Store.open(newer, { readonly: true })).toThrow(
      new RegExp(`^postgres://kw:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/kw_\\d+_\\d+ has schema version 99, newer than this kubewire build reads \\(version ${PG_LATEST_VERSION}\\)$`),
    );

    const other = await pg.newDatabase();
    const owner = new Client({ connectionString: other });
    await owner.connect();
    await owner.query("CREATE TABLE meta (key TEXT, value TEXT)");
    await owner.end();
    expect(() => Store.open(other)).toThrow(/has a table named meta but is not a kubewire recording$/);
    let message = "";
    try {
      Store.open(other);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^postgres:\/\/kw:\*\*\*@/);
    expect(message).not.toContain(PG_PASSWORD);
  }, 60_000);

  it("spills what it cannot write beside the state, and loads it back once the server is there again", async () => {
    const spec = parseDbSpec(await pg.newDatabase()).url;
    const problems: string[] = [];
    const recorder = new Recorder({ dbPath: spec, filesBase: join(dir, "pg"), batchMs: 1, onError: (m) => problems.push(m) });
    recorder.open();
    for (let i = 0; i < 3; i++) recorder.record(exchange({ startedAt: FIXED_START + i }));
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ written: 3, spilled: 0 });

    pg.pause();
    for (let i = 3; i < 8; i++) recorder.record(exchange({ startedAt: FIXED_START + i }));
    await recorder.flush();
    expect(recorder.stats()).toMatchObject({ written: 3, spilled: 5, dropped: 0 });
    expect(existsSync(join(dir, "pg.spill.jsonl"))).toBe(true);
    expect(recorder.stats().lastError).toMatch(/^cannot write postgres:\/\/kw:\*\*\*@127\.0\.0\.1:\d+\/kw_\d+_\d+: /);

    pg.resume();
    recorder.record(exchange({ startedAt: FIXED_START + 8 }));
    await recorder.flush();
    const stats = await recorder.close();
    expect(stats).toMatchObject({ written: 4, spilled: 5, reloaded: 5, dropped: 0 });
    expect(existsSync(join(dir, "pg.spill.jsonl"))).toBe(false);

    const store = Store.open(spec, { readonly: true });
    try {
      expect(store.list({}).map((r) => r.time)).toEqual(Array.from({ length: 9 }, (_, i) => new Date(FIXED_START + i).toISOString()));
    } finally {
      store.close();
    }
    expect(problems.join("\n")).not.toContain(PG_PASSWORD);
  }, 120_000);
});
