// The spill file: appended as private JSON lines, loaded back exactly once even after a crash mid-load.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendSpill, reloadSpill, SPILL_PROGRESS_KEY } from "../src/record/spill.js";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, stopEngines } from "./helpers/engines.js";

afterAll(stopEngines, 60_000);

describe.each(ENGINES)("on %s", (engine) => {
let dir: string;
let spillPath: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-spill-"));
  spillPath = join(dir, "rec.db.spill.jsonl");
  store = Store.open(await freshSpec(engine, dir));
}, 60_000);
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (n: number): Exchange => exchange({ startedAt: FIXED_START + n });
const starts = () => store.list({}).map((r) => Date.parse(r.time) - FIXED_START);
const line = (n: number) => JSON.stringify({ ...at(n), id: undefined });

describe("spill file", () => {
  it("appends exchanges as JSON lines without their ids, in a file only the owner can read", () => {
    expect(appendSpill(spillPath, [at(0), at(1)])).toBe(2);
    appendSpill(spillPath, [at(2)]);
    const lines = readFileSync(spillPath, "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as Exchange).startedAt - FIXED_START)).toEqual([0, 1, 2]);
    expect(lines.every((l) => !("id" in JSON.parse(l)))).toBe(true);
    expect(statSync(spillPath).mode & 0o777).toBe(0o600);
  });

  it("loads every exchange back with full detail and removes the file", () => {
    const original = exchange({ response: null, error: { code: "ETIMEDOUT", message: "timed out", phase: "connect" } });
    appendSpill(spillPath, [original]);
    const { exchanges, unreadable } = reloadSpill(store, spillPath);
    expect(exchanges).toHaveLength(1);
    expect(unreadable).toBe(0);
    expect(store.get(exchanges[0]!.id!)).toEqual({ ...original, id: exchanges[0]!.id });
    expect(readdirSync(dir).filter((n) => n.includes("spill"))).toEqual([]);
  });

  it("skips a line cut short by a crash and anything that is not an exchange", () => {
    writeFileSync(spillPath, `${line(0)}\n{"startedAt": 5}\n${line(1)}\n${line(2).slice(0, 40)}`);
    const { exchanges, unreadable } = reloadSpill(store, spillPath);
    expect(exchanges).toHaveLength(2);
    expect(unreadable).toBe(2);
    expect(starts()).toEqual([0, 1]);
  });

  it("finishes a load a crash interrupted without loading anything twice", () => {
    // A crash after the first 2 lines of this file were committed (with their progress mark) but before it was removed.
    const name = "rec.db.spill.jsonl.loading-000001700000000-abcd1234";
    writeFileSync(join(dir, name), [0, 1, 2, 3].map(line).join("\n") + "\n");
    store.transaction(() => {
      store.insertMany([at(0), at(1)]);
      store.setMeta(SPILL_PROGRESS_KEY, `${name}#2`);
    });
    appendSpill(spillPath, [at(4)]); // and the next run spilled more
    const { exchanges } = reloadSpill(store, spillPath);
    expect(exchanges.map((e) => e.startedAt - FIXED_START)).toEqual([2, 3, 4]);
    expect(starts()).toEqual([0, 1, 2, 3, 4]);
    expect(readdirSync(dir).filter((n) => n.includes("spill"))).toEqual([]);
  });

  it("removes a fully loaded file left behind without loading it again", () => {
    const name = "rec.db.spill.jsonl.loading-000001700000000-abcd1234";
    writeFileSync(join(dir, name), [0, 1].map(line).join("\n") + "\n");
    store.transaction(() => {
      store.insertMany([at(0), at(1)]);
      store.setMeta(SPILL_PROGRESS_KEY, `${name}#2`);
    });
    expect(reloadSpill(store, spillPath).exchanges).toEqual([]);
    expect(starts()).toEqual([0, 1]);
    expect(existsSync(join(dir, name))).toBe(false);
  });

  it("keeps the spilled records when the database refuses them", () => {
    appendSpill(spillPath, [at(0)]);
    const readonly = Store.open(store.path, { readonly: true });
    try {
      expect(() => reloadSpill(readonly, spillPath)).toThrow(/readonly|read-only transaction/);
    } finally {
      readonly.close();
    }
    expect(reloadSpill(store, spillPath).exchanges).toHaveLength(1);
    expect(starts()).toEqual([0]);
  });
});
});
