// flags' whole-set rules over a store, as `kubewire flags` runs them (only the proxy's and imported traffic):
// relist-storm's findings and evidence order, the same exchanges in memory, and the covering indexes that keep
// the origin filter from looking up every row of a million-exchange recording (schema 7).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { analyze, flagsOf } from "../src/analyze/lib/engine.js";
import { diagnose } from "../src/cli/diagnose.js";
import { Store } from "../src/store/store.js";
import type { Exchange, Finding } from "../src/types.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, stopEngines } from "./helpers/engines.js";

const S = 1000;
const FLAGS_FILTER = { origin: ["proxy", "import"] }; // what flagsSteps.complete sets
const ctx = { now: FIXED_START + 3600 * S, credentials: new Map() };
afterAll(stopEngines, 60_000);

const list = (s: number, resource: string, namespace: string, more: Partial<Exchange> = {}) =>
  exchange({ startedAt: FIXED_START + s * S, request: { path: `/api/v1/namespaces/${namespace}/${resource}`, query: "limit=500" }, info: { resource, namespace }, timing: { totalMs: 40 }, ...more });
const watch = (s: number, resource: string, namespace: string) =>
  exchange({
    startedAt: FIXED_START + s * S,
    request: { path: `/api/v1/namespaces/${namespace}/${resource}`, query: "watch=true&resourceVersion=5" },
    info: { verb: "watch", resource, namespace },
    timing: { totalMs: 10 * S },
    stream: { kind: "watch", events: 3, bytesIn: 0, bytesOut: 2048, durationMs: 10 * S, endedBy: "server", format: "json" },
  });
/** A client that lists, watches for 10 s and lists again when the watch ends, `relists` times, from second `from`. */
const storm = (from: number, relists: number, resource: string, namespace: string) =>
  Array.from({ length: relists + 1 }, (_, i) => [list(from + 20 * i, resource, namespace), ...(i < relists ? [watch(from + 20 * i + 1, resource, namespace)] : [])]).flat();

// pods in web storm first in time, configmaps in app later: the store's groups put configmaps first
const exchanges: Exchange[] = [
  ...storm(0, 6, "pods", "web"),
  ...storm(200, 5, "configmaps", "app"),
  // a replay and an injected list right after a pods watch ended: neither is the client's relist
  list(55, "pods", "web", { origin: "replay", replayOf: 1 }),
  list(56, "pods", "web", { injected: { rule: "slow-lists", action: "delay" } }),
  // a collection only watched, and a subresource list: never relists
  watch(400, "secrets", "app"),
  list(410, "pods", "web", { info: { resource: "pods", namespace: "web", subresource: "log" } } as Partial<Exchange>),
].sort((a, b) => a.startedAt - b.startedAt);

function relistStorm(findings: Finding[]): Finding {
  const f = findings.find((x) => x.kind === "relist-storm");
  expect(f, JSON.stringify(findings.map((x) => x.kind))).toBeDefined();
  return f!;
}

describe.each(ENGINES)("on %s", (engine) => {
  it("finds the same relists as the rule over the same exchanges in memory, evidence in the groups' order", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubewire-relist-"));
    const store = Store.open(await freshSpec(engine, dir));
    try {
      const ids = store.insertMany(exchanges, flagsOf);
      const idOf = (ex: Exchange) => ids[exchanges.indexOf(ex)];
      // the lists that follow an ended watch of their own collection: all but each storm's first
      const expected = exchanges
        .filter((ex) => ex.info.verb === "list" && !ex.info.subresource && ex.origin === "proxy" && !ex.injected)
        .filter((ex) => (ex.startedAt - FIXED_START) % (20 * S) === 0 && ex.startedAt !== FIXED_START && ex.startedAt !== FIXED_START + 200 * S)
        .map(idOf)
        .sort((a, b) => a - b);
      expect(expected).toHaveLength(11);

      const fromStore = relistStorm(diagnose(store, FLAGS_FILTER, ctx).findings);
      expect(fromStore.count).toBe(11);
      expect(fromStore.requestIds).toEqual(expected);
      expect(fromStore.evidence).toHaveLength(2);
      expect(fromStore.evidence[0]).toMatch(/^list configmaps in namespace app \(context \S+\): listed again after a watch ended 5 times, 5 of them in /);
      expect(fromStore.evidence[1]).toMatch(/^list pods in namespace web \(context \S+\): listed again after a watch ended 6 times, 6 of them in /);

      const inMemory = relistStorm(analyze(exchanges.filter((ex) => ex.origin === "proxy").map((ex) => ({ ...ex, id: idOf(ex) })), ctx));
      expect(inMemory.requestIds).toEqual(fromStore.requestIds);
      expect(inMemory.message).toBe(fromStore.message);
      expect([...inMemory.evidence].sort()).toEqual([...fromStore.evidence].sort());
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("reads each list and watch of a whole collection once, as columns of numbers, the collection named once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubewire-relist-"));
    const store = Store.open(await freshSpec(engine, dir));
    try {
      store.insertMany(exchanges, flagsOf);
      const { collections, reads } = store.listsAndWatches(FLAGS_FILTER);
      expect(collections.map((c) => `${c.resource}/${c.namespace}`).sort()).toEqual(["configmaps/app", "pods/web", "secrets/app"]);
      // the replay is not the proxy's traffic; the subresource list is not a collection's
      expect(reads).toHaveLength(exchanges.length - 2);
      expect(reads.watch.filter((w) => w === 1)).toHaveLength(12);
      const starts = [...reads.startedAt];
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      const pods = collections.findIndex((c) => c.resource === "pods");
      expect(reads.of.filter((of) => of === pods)).toHaveLength(7 + 6 + 1);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("flags' origin filter on SQLite", () => {
  // The statements the store runs for the baselines, the latency groups (percentiles included) and the TLS
  // chains, with flags' filter, recorded as they run: each must be answered from an index alone (a covering
  // one, or the primary key; an index walk that stops at its first row may look that row up), or a recording
  // of 1,000,000 exchanges takes seconds per statement, not tenths.
  it("reads the baselines, latency groups and chain uses from covering indexes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubewire-plan-"));
    const path = join(dir, "rec.db");
    const store = Store.open(path);
    try {
      store.insertMany(Array.from({ length: 40 }, (_, i) => exchange({ startedAt: FIXED_START + i * 1000, timing: { totalMs: 10 + i } })));
      const ran: Array<[string, unknown[]]> = [];
      const conn = (store as unknown as { q: { conn: Record<string, (sql: string, params?: unknown[]) => unknown> } }).q.conn;
      for (const m of ["all", "rows", "column", "value"]) {
        const real = conn[m].bind(conn);
        conn[m] = (sql: string, params: unknown[] = []) => (ran.push([sql, params]), real(sql, params));
      }
      store.groupMedians(FLAGS_FILTER);
      store.latencyGroups(FLAGS_FILTER, [0.5, 0.9, 0.99]);
      for (const use of store.chainUses(FLAGS_FILTER, 2)) use.count();
      const reads = ran.filter(([sql]) => /\bFROM exchanges e\b/.test(sql));
      expect(reads.length).toBeGreaterThanOrEqual(4);
      const db = new Database(path, { readonly: true });
      try {
        for (const [sql, params] of reads) {
          const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => (r as { detail: string }).detail);
          const onTable = plan.filter((l) => /\b(SCAN|SEARCH) e\b/.test(l));
          const oneRow = /LIMIT 1$/.test(sql.trim());
          expect({ sql, plan: onTable.filter((l) => !/COVERING INDEX|INTEGER PRIMARY KEY/.test(l) && !(oneRow && /USING INDEX/.test(l))) }).toEqual({ sql, plan: [] });
        }
      } finally {
        db.close();
      }
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
