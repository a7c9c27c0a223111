// Store round trips: every field of an Exchange comes back from get() and iterate() as written.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { CA_CERT, exchange, FIXED_START, LEAF_CERT } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, stopEngines } from "./helpers/engines.js";

afterAll(stopEngines, 60_000);

describe.each(ENGINES)("on %s", (engine) => {
let dir: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-store-"));
  store = Store.open(await freshSpec(engine, dir));
}, 60_000);
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function withoutId(ex: Exchange): Exchange {
  return { ...structuredClone(ex), id: undefined };
}

describe("Store round trip", () => {
  it("gives back every field of a full exchange, with the id it assigned", () => {
    const ex = exchange({ request: { body: { data: "eyJhIjoxfQ==", encoding: "base64", truncated: true, size: 70000 }, bytes: 70000 } });
    const written = structuredClone(ex);
    const [id] = store.insertMany([ex]);
    expect(ex.id).toBe(id);
    expect(store.get(id!)).toEqual({ ...written, id });
  });

  it("keeps a missing response apart from an error response, with the error and its phase", () => {
    const failed = exchange({
      response: null,
      error: { code: "CERT_HAS_EXPIRED", message: "certificate has expired", phase: "tls" },
      tls: { chain: [] },
      timing: { ttfbMs: 0, totalMs: 3.5 },
    });
    const noPhase = exchange({ error: { code: "CLIENT_ABORTED", message: "client went away" }, response: { status: 500 } });
    const expected = [withoutId(failed), withoutId(noPhase)];
    const ids = store.insertMany([failed, noPhase]);
    expect(store.get(ids[0]!)).toEqual({ ...expected[0], id: ids[0] });
    expect(store.get(ids[1]!)).toEqual({ ...expected[1], id: ids[1] });
    expect(store.get(ids[1]!)!.error).not.toHaveProperty("phase");
  });

  it("round-trips a watch stream, a replay origin and a TLS session without a chain", () => {
    const watch = exchange({
      origin: "replay",
      replayOf: 7,
      request: { query: "watch=1&resourceVersion=12345" },
      info: { verb: "watch" },
      stream: { kind: "watch", events: 42, bytesIn: 0, bytesOut: 18234, durationMs: 300000.5, endedBy: "server" },
      tls: { resumed: true, chain: [], alpn: null },
    });
    const expected = withoutId(watch);
    const [id] = store.insertMany([watch]);
    expect(store.get(id!)).toEqual({ ...expected, id });
  });

  it("stores a chain shared by many exchanges once, across batches", () => {
    const other = [{ ...LEAF_CERT, sha256: "ff".repeat(32) }, CA_CERT];
    store.insertMany(Array.from({ length: 50 }, (_, i) => exchange({ startedAt: FIXED_START + i })));
    store.insertMany([exchange(), exchange({ tls: { chain: other } }), exchange({ tls: null })]);
    // one chainUses row per stored chain: a chain stored twice would be two
    expect(store.chainUses({}).map((u) => u.chain.length)).toEqual([2, 2]);
    expect(store.get(51)!.tls!.chain).toEqual([LEAF_CERT, CA_CERT]);
    expect(store.get(52)!.tls!.chain).toEqual(other);
    expect(store.get(53)!.tls).toBeNull();
  });

  it("returns null for an id that was never written", () => {
    store.insertMany([exchange()]);
    expect(store.get(999)).toBeNull();
  });

  it("streams full exchanges in time order through iterate, past its page size", () => {
    const all = Array.from({ length: 2500 }, (_, i) => exchange({ startedAt: FIXED_START + (i % 2 === 0 ? i : 5000 - i) }));
    store.insertMany(all);
    const seen = [...store.iterate({})];
    expect(seen).toHaveLength(2500);
    const starts = seen.map((e) => e.startedAt);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(seen[0]).toEqual(store.get(seen[0]!.id!));
  });

  it("lets setFlags run while an iterate is open", () => {
    store.insertMany(Array.from({ length: 1500 }, (_, i) => exchange({ startedAt: FIXED_START + i })));
    for (const ex of store.iterate({})) if (ex.id! % 500 === 0) store.setFlags(ex.id!, ["slow-request"]);
    expect(store.list({ flag: "slow-request" }).map((r) => r.id)).toEqual([500, 1000, 1500]);
  });

  it("iterates only the newest N with a limit, oldest first", () => {
    store.insertMany(Array.from({ length: 20 }, (_, i) => exchange({ startedAt: FIXED_START + (i % 5) })));
    // id n started at FIXED_START + (n - 1) % 5: the newest six are 14 and 19 (at +3), then 5, 10, 15, 20 (at +4)
    expect([...store.iterate({ limit: 6 })].map((e) => e.id)).toEqual([14, 19, 5, 10, 15, 20]);
    expect(store.list({ limit: 6 }).map((r) => r.id)).toEqual([14, 19, 5, 10, 15, 20]);
  });

  it("replaces an exchange's flags with setFlags and keeps meta values", () => {
    const [id] = store.insertMany([exchange()]);
    store.setFlags(id!, ["x509-expired", "forbidden"]);
    store.setFlags(id!, ["forbidden"]);
    expect(store.list({ ids: [id!] })[0]!.flags).toEqual(["forbidden"]);
    store.setMeta("proxy.port", "8443");
    store.setMeta("proxy.port", "9443");
    expect(store.meta("proxy.port")).toBe("9443");
    expect(store.meta("app")).toBe("kubewire");
    expect(store.meta("nothing")).toBeNull();
  });

  it("rolls back a whole batch when one exchange cannot be written, assigning no ids", () => {
    const good = exchange();
    const bad = exchange();
    (bad.request as { method: unknown }).method = null; // NOT NULL column
    expect(() => store.insertMany([good, bad])).toThrow();
    expect(good.id).toBe(1); // the fixture's own id, untouched
    expect(store.count()).toBe(0);
    const [id] = store.insertMany([exchange({ tls: { chain: [CA_CERT] } })]);
    expect(store.get(id!)!.tls!.chain).toEqual([CA_CERT]);
    expect(store.chainUses({}).map((u) => u.chain)).toEqual([[CA_CERT]]);
  });
});
});
