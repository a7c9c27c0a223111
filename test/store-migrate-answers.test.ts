// A recording made before kubewire kept its own answers apart (schema version 5 and before: its 502 and 401 stored
// as responses marked fromProxy) reads, once opened for writing, as the proxy records today: no status,
// the error, and what kubewire answered as proxyAnswer; a fault's answer made on purpose stays a response.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migrations } from "../src/store/migrations.js";
import { detailJson, exchangeParams, INSERT_DETAIL_SQL, INSERT_EXCHANGE_SQL } from "../src/store/rows.js";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { exchange } from "./fixtures/exchange.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-migrate-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const REFUSED_TEXT = "kubewire: cannot reach the API server https://127.0.0.1:1: dial 127.0.0.1:1: connection refused [ECONNREFUSED, connect]";
const AUTH_TEXT = JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "kubewire: no credentials", reason: "Unauthorized", code: 401 });

/** An exchange as a version-5 recording held it: kubewire's answer as the response, marked fromProxy. */
function oldRow(db: Database.Database, ex: Exchange, fromProxy: boolean): void {
  const id = Number(db.prepare(INSERT_EXCHANGE_SQL).run(...exchangeParams(ex, null, 0)).lastInsertRowid);
  const detail = JSON.parse(detailJson(ex));
  if (detail.response) detail.response.fromProxy = fromProxy;
  db.prepare(INSERT_DETAIL_SQL).run(id, JSON.stringify(detail));
}

const body = (data: string) => ({ data, encoding: "utf8" as const, truncated: false, size: data.length });

describe("opening a recording of schema version 5 (the last before kubewire kept its answers apart)", () => {
  it("turns kubewire's own answers into errors without a response, keeping what the client was answered", () => {
    const path = join(dir, "old.db");
    const db = new Database(path);
    for (const m of migrations.filter((m) => m.version <= 5)) m.up(db);
    db.pragma("user_version = 5");
    const ok = exchange({ id: undefined });
    const refused = exchange({
      id: undefined,
      response: { status: 502, headers: { "content-type": "text/plain; charset=utf-8", "x-kubewire-error": "ECONNREFUSED" }, body: body(REFUSED_TEXT), bytes: REFUSED_TEXT.length },
      error: { code: "ECONNREFUSED", message: "dial 127.0.0.1:1: connection refused", phase: "connect" },
      tls: null,
    });
    const auth = exchange({ id: undefined, response: { status: 401, headers: { "content-type": "application/json" }, body: body(AUTH_TEXT), bytes: AUTH_TEXT.length }, error: { code: "PROXY_AUTH", message: "no credentials", phase: "client" } });
    const fault = exchange({ id: undefined, response: { status: 429, headers: { "retry-after": "1" }, body: body("Too many requests\n"), bytes: 18 }, injected: { rule: "t", action: "429" } });
    oldRow(db, ok, false);
    oldRow(db, refused, true);
    oldRow(db, auth, true);
    oldRow(db, fault, true);
    db.close();
    chmodSync(path, 0o600);

    const store = Store.open(path);
    try {
      const [a, b, c, d] = [...store.iterate()];
      expect(a.response?.status).toBe(200);
      expect(a.proxyAnswer).toBeUndefined();
      expect(b.response).toBeNull();
      expect(b.error).toEqual(refused.error);
      expect(b.proxyAnswer).toEqual({ status: 502, headers: refused.response!.headers, body: body(REFUSED_TEXT) });
      expect(c.response).toBeNull();
      expect(c.proxyAnswer?.status).toBe(401);
      expect(JSON.parse(c.proxyAnswer!.body.data).message).toBe("kubewire: no credentials");
      expect(d.response?.status).toBe(429); // a fault's answer on purpose is the response the client was meant to see
      expect(d.proxyAnswer).toBeUndefined();
      expect(store.list({ status: "error" }).map((r) => [r.error?.code, r.bytesOut])).toEqual([["ECONNREFUSED", 0], ["PROXY_AUTH", 0]]);
      expect(store.list({ status: 502 })).toEqual([]);
    } finally {
      store.close();
    }
  });
});
