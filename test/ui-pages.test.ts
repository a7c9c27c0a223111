// The web view's keyset pages (Store.pageBefore) give exactly the rows `ls` gives, newest first,
// whether a filter matches often (walked by id), rarely (answered by its index) or in one burst.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store, type ListFilter } from "../src/store/store.js";
import { exchange } from "./fixtures/exchange.js";

const N = 40_000;

describe("paging the list by id", () => {
  let dir: string;
  let store: Store;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kubewire-pages-"));
    store = Store.open(join(dir, "pages.db"));
    const t0 = Date.parse("2026-11-01T00:00:00Z");
    for (let start = 0; start < N; start += 5000) {
      store.insertMany(Array.from({ length: 5000 }, (_, k) => {
        const i = start + k;
        const status = i % 4999 === 0 ? 503 : i >= 30_000 && i < 30_400 ? 403 : 200; // rare, and one burst
        return exchange({ startedAt: t0 + i, info: { namespace: i % 3 === 0 ? "a" : "b" }, response: { status } });
      }));
    }
  });

  afterAll(() => {
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each<[string, ListFilter]>([
    ["no filter", {}],
    ["a rare status", { status: 503 }],
    ["a status in one burst", { status: 403 }],
    ["a common namespace", { namespace: "a" }],
    ["a burst in one namespace", { status: 403, namespace: "b" }],
    ["nothing at all", { status: 418 }],
  ])("walks %s page by page to the same rows as ls", (_, filter) => {
    const want = store.list(filter).map((r) => r.id).reverse();
    const got: number[] = [];
    let before: number | null = null;
    for (;;) {
      const page = store.pageBefore(filter, before, 1000);
      got.push(...page.map((r) => r.id));
      if (page.length < 1000) break;
      before = page[page.length - 1].id;
    }
    expect(got).toEqual(want);
  });
});
