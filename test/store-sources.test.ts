// Sources at the store, on each engine: every exchange keeps where it was recorded (one sources row per distinct
// source, read back by ls rows, get and iterate), --source's selector picks them, "more than one source?",
// flags' SOURCES, and aggregated rows kept apart per run. On PostgreSQL also schema step 6 (kubewire's answers).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg_ from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDbSpec } from "../src/store/db-spec.js";
import { pgMigrations, PG_SCHEMA_TABLE } from "../src/store/pg-schema.js";
import { detailJson, exchangeParams } from "../src/store/rows.js";
import { parseSourceSelector } from "../src/store/source-selector.js";
import { Store } from "../src/store/store.js";
import type { Exchange, ExchangeSource } from "../src/types.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, postgresUrl, stopEngines } from "./helpers/engines.js";

const { Client } = pg_;
const MIN = 60_000;
afterAll(stopEngines, 60_000);

const ALICE: ExchangeSource = { host: "alice-laptop", run: "7f3a0001" };
const CI: ExchangeSource = { host: "ci-runner-3", run: "7f3a0002" };
const POD: ExchangeSource = { host: "operator-5d9c", run: "7f3a0003", pod: "operator-5d9c", namespace: "shop", serviceAccount: "system:serviceaccount:shop:operator" };

/** A request without the proxy token, aggregated per client address, context, minute and (now) source. */
const tokenless = (source: ExchangeSource, count: number, at: number): Exchange =>
  exchange({
    id: undefined, startedAt: at, source, response: null, tls: null,
    error: { code: "PROXY_AUTH", message: "no proxy token", phase: "client" },
    repeat: { count, lastSeenAt: at + 1000 },
  });

describe.each(ENGINES)("sources on %s", (engine) => {
  let dir: string;
  let spec: string;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kubewire-sources-"));
    spec = await freshSpec(engine, dir);
    store = Store.open(spec);
  }, 60_000);
  afterAll(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps each exchange's source, one row per distinct source, and says when there is more than one", () => {
    store.insertMany([exchange({ id: undefined, startedAt: FIXED_START, source: undefined })]); // 1: not known
    expect(store.severalSources()).toBe(false);
    store.insertMany([
      exchange({ id: undefined, startedAt: FIXED_START + 1 * MIN, source: ALICE }), // 2
      exchange({ id: undefined, startedAt: FIXED_START + 2 * MIN, source: ALICE, response: { status: 403 } }), // 3
    ]);
    store.insertMany([
      exchange({ id: undefined, startedAt: FIXED_START + 3 * MIN, source: CI, response: { status: 403 } }), // 4
      exchange({ id: undefined, startedAt: FIXED_START + 4 * MIN, source: POD }), // 5
      exchange({ id: undefined, startedAt: FIXED_START + 5 * MIN, source: { ...ALICE } }), // 6: ALICE again, in a later batch
    ]);
    expect(store.severalSources()).toBe(true);
    const rows = store.list();
    expect(rows.map((r) => r.source)).toEqual([undefined, ALICE, ALICE, CI, POD, ALICE]);
    expect("source" in rows[0]!).toBe(false);
    expect(store.get(rows[4]!.id)!.source).toEqual(POD);
    expect([...store.iterate()].map((ex) => ex.source)).toEqual([undefined, ALICE, ALICE, CI, POD, ALICE]);

    // a second connection reads the same rows (nothing of it was cached there)
    const other = Store.open(spec, { readonly: true });
    try {
      expect(other.list().map((r) => r.source)).toEqual([undefined, ALICE, ALICE, CI, POD, ALICE]);
      expect(other.severalSources()).toBe(true);
    } finally {
      other.close();
    }
  });

  it.each<[string, string, number[]]>([
    ["a run", "run=7f3a0001", [2, 3, 6]],
    ["RUN@HOST as the SOURCE column writes it", "7f3a0002@ci-runner-3", [4]],
    ["RUN@NAMESPACE/POD", "7f3a0003@shop/operator-5d9c", [5]],
    ["a service account as NS:NAME", "sa=shop:operator", [5]],
    ["a bare host", "alice-laptop", [2, 3, 6]],
    ["an unknown part", "host=", [1]],
    ["a source never seen", "run=ffffffff", []],
  ])("--source picks %s (%s)", (_what, text, expected) => {
    const first = store.list()[0]!.id - 1; // ids from a shared sequence need not start at 1
    const source = parseSourceSelector(text);
    expect(store.list({ source }).map((r) => r.id - first)).toEqual(expected);
    expect(store.count({ source })).toBe(expected.length);
    expect([...store.iterate({ source })].map((ex) => ex.id! - first)).toEqual(expected);
    expect(store.pageBefore({ source }, null, 10).map((r) => r.id - first)).toEqual([...expected].reverse());
  });

  it("tells flags' sources apart, and the sources of a set of exchanges", () => {
    const ids = store.list().map((r) => r.id);
    store.setFlags(ids[2]!, ["forbidden"]);
    store.setFlags(ids[3]!, ["forbidden"]);
    store.setFlags(ids[4]!, ["slow-request"]);
    expect(store.flagSources()).toEqual(new Map([["forbidden", [ALICE, CI]], ["slow-request", [POD]]]));
    expect(store.flagSources({ source: parseSourceSelector("ci-runner-3") })).toEqual(new Map([["forbidden", [CI]]]));
    expect(store.flagSources({ flag: "slow-request" })).toEqual(new Map([["slow-request", [POD]]]));
    expect(store.sourcesOf([ids[0]!, ids[1]!, ids[5]!, ids[3]!])).toEqual([{}, ALICE, CI]);
  });

  it("keeps two runs' requests without the proxy token in two aggregated rows, one per run", () => {
    const at = FIXED_START + 60 * MIN;
    store.insertMany([tokenless(ALICE, 3, at), tokenless(CI, 2, at + 100)]);
    store.insertMany([tokenless(ALICE, 4, at + 200), tokenless(CI, 1, at + 300)]);
    const rows = store.list({ status: "error" }).filter((r) => r.repeat);
    expect(rows.map((r) => [r.source?.run, r.repeat!.count])).toEqual([[ALICE.run, 7], [CI.run, 3]]);
  });
});

describe.skipIf(!ENGINES.includes("postgres"))("a PostgreSQL recording of schema version 5 (kubewire's answers kept as responses)", () => {
  it("turns kubewire's own answers into errors without a response once opened, keeping what the client was answered", async () => {
    const url = await postgresUrl();
    const client = new Client({ connectionString: url });
    await client.connect();
    const refusedText = "kubewire: cannot reach the API server https://127.0.0.1:1: connection refused [ECONNREFUSED, connect]";
    // a detail PostgreSQL's json functions cannot read (they refuse \u0000): left as it was, the step goes on
    const nulText = "kubewire: cannot reach the API server https://127.0.0.1:1: reset\u0000";
    try {
      for (const step of pgMigrations.filter((m) => m.version <= 5)) await client.query(step.sql);
      await client.query(PG_SCHEMA_TABLE);
      await client.query("INSERT INTO schema_migrations (version, description) SELECT v, 'old' FROM generate_series(1, 5) v");
      const old = async (ex: Exchange, fromProxy: boolean) => {
        const params = exchangeParams(ex, null, 0);
        const marks = params.map((_, i) => `$${i + 1}`).join(", ");
        const id = (await client.query(`INSERT INTO exchanges (started_at, method, path, query, verb, api_group, api_version, resource, subresource, namespace,
          name, status, duration_ms, error_code, error_message, context, cluster_url, kube_user, user_agent, client_address, bytes_in, bytes_out, origin,
          replay_of, watch_error_code, tls_chain_id, source_id) VALUES (${marks}) RETURNING id`, params)).rows[0].id;
        const detail = JSON.parse(detailJson(ex));
        if (detail.response) detail.response.fromProxy = fromProxy;
        await client.query("INSERT INTO exchange_details (exchange_id, detail) VALUES ($1, $2)", [id, JSON.stringify(detail)]);
      };
      const body = (data: string) => ({ data, encoding: "utf8" as const, truncated: false, size: data.length });
      await old(exchange({ id: undefined }), false);
      await old(exchange({
        id: undefined, tls: null,
        response: { status: 502, headers: { "content-type": "text/plain; charset=utf-8" }, body: body(refusedText), bytes: refusedText.length },
        error: { code: "ECONNREFUSED", message: "connection refused", phase: "connect" },
      }), true);
      await old(exchange({
        id: undefined, tls: null,
        response: { status: 502, headers: { "content-type": "text/plain; charset=utf-8" }, body: body(nulText), bytes: nulText.length },
        error: { code: "ECONNRESET", message: "reset", phase: "response" },
      }), true);
      await old(exchange({ id: undefined, response: { status: 429, headers: { "retry-after": "1" }, body: body("Too many requests\n"), bytes: 18 }, injected: { rule: "t", action: "429" } }), true);
    } finally {
      await client.end();
    }

    const store = Store.open(parseDbSpec(url).url);
    try {
      const [ok, refused, unread, fault] = [...store.iterate()];
      expect(ok!.response?.status).toBe(200);
      expect(refused!.response).toBeNull();
      expect(refused!.error?.code).toBe("ECONNREFUSED");
      expect(refused!.proxyAnswer).toMatchObject({ status: 502, headers: { "content-type": "text/plain; charset=utf-8" }, body: body502(refusedText) });
      expect(store.list({ status: "error" }).map((r) => r.id)).toEqual([refused!.id]);
      expect(unread!.response?.status).toBe(502);
      expect(unread!.response?.body?.data).toBe(nulText);
      expect(unread!.proxyAnswer).toBeUndefined();
      expect(fault!.response?.status).toBe(429);
      expect(fault!.proxyAnswer).toBeUndefined();
    } finally {
      store.close();
    }
  }, 60_000);
});

function body502(data: string) {
  return { data, encoding: "utf8", truncated: false, size: data.length };
}
