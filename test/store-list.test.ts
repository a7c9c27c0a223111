// Store queries: each ListFilter criterion alone and combined, limits, tailing, and the ExchangeRow shape.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { retryHeadersOf } from "../src/analyze/lib/util.js";
import { Store, type ListFilter } from "../src/store/store.js";
import { exchange, FIXED_START } from "./fixtures/exchange.js";
import { ENGINES, freshSpec, stopEngines } from "./helpers/engines.js";

const MIN = 60_000;
afterAll(stopEngines, 60_000);

describe.each(ENGINES)("on %s", (engine) => {
let dir: string;
let store: Store;

// ids 1..8, in time order except id 5, which started first
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-list-"));
  store = Store.open(await freshSpec(engine, dir));
  store.insertMany([
    exchange({ startedAt: FIXED_START + 1 * MIN }), // 1: list pods 200
    exchange({ startedAt: FIXED_START + 2 * MIN, response: { status: 403 }, info: { resource: "secrets", namespace: "kube-system" }, request: { path: "/api/v1/namespaces/kube-system/secrets" } }),
    exchange({ startedAt: FIXED_START + 3 * MIN, response: { status: 404 }, info: { verb: "get", name: "web-0" }, request: { path: "/api/v1/namespaces/default/pods/web-0" } }),
    exchange({ startedAt: FIXED_START + 4 * MIN, response: { status: 503 }, timing: { totalMs: 2500 }, context: "prod" }),
    exchange({ startedAt: FIXED_START, response: null, error: { code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:6443", phase: "connect" } }),
    exchange({
      startedAt: FIXED_START + 5 * MIN,
      origin: "replay",
      replayOf: 2,
      info: { verb: "patch", apiGroup: "apps", resource: "deployments", name: "web", subresource: "scale" },
      request: { method: "PATCH", path: "/apis/apps/v1/namespaces/default/deployments/web/scale" },
    }),
    exchange({ startedAt: FIXED_START + 6 * MIN, response: { status: 500 }, timing: { totalMs: 900 } }),
    exchange({ startedAt: FIXED_START + 7 * MIN, response: { status: 403 } }),
  ]);
  store.setFlags(2, ["forbidden"]);
  store.setFlags(8, ["forbidden", "slow-request"]);
}, 60_000);
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ids = (filter: ListFilter) => store.list(filter).map((r) => r.id);

describe("Store.list", () => {
  it.each<[string, ListFilter, number[]]>([
    ["no filter lists everything oldest first", {}, [5, 1, 2, 3, 4, 6, 7, 8]],
    ["an exact status", { status: 403 }, [2, 8]],
    ["the 4xx class", { status: "4xx" }, [2, 3, 8]],
    ["the 5xx class", { status: "5xx" }, [4, 7]],
    ["the 2xx class", { status: "2xx" }, [1, 6]],
    ["error: no response at all", { status: "error" }, [5]],
    ["verb", { verb: "get" }, [3]],
    ["resource", { resource: "secrets" }, [2]],
    ["group", { group: "apps" }, [6]],
    ["subresource", { subresource: "scale" }, [6]],
    ["namespace", { namespace: "kube-system" }, [2]],
    ["name", { name: "web-0" }, [3]],
    ["since, inclusive", { since: FIXED_START + 6 * MIN }, [7, 8]],
    ["until, inclusive", { until: FIXED_START + 1 * MIN }, [5, 1]],
    ["slower than", { slowerThanMs: 899 }, [4, 7]],
    ["path contains, taken literally", { pathContains: "/deployments/web/" }, [6]],
    ["path contains a LIKE wildcard literally", { pathContains: "%" }, []],
    ["context", { context: "prod" }, [4]],
    ["origin", { origin: "replay" }, [6]],
    ["flag", { flag: "forbidden" }, [2, 8]],
    ["ids", { ids: [8, 3, 99] }, [3, 8]],
    ["no ids", { ids: [] }, []],
    ["afterId for tailing", { afterId: 6 }, [7, 8]],
    ["limit: the newest N, oldest first", { limit: 3 }, [6, 7, 8]],
    ["status and since combined", { status: 403, since: FIXED_START + 3 * MIN }, [8]],
    ["flag, status and limit combined", { flag: "forbidden", status: "4xx", limit: 1 }, [8]],
  ])("filters by %s", (_, filter, expected) => {
    expect(ids(filter)).toEqual(expected);
    expect(store.count(filter)).toBe(expected.length);
    expect([...store.iterate(filter)].map((e) => e.id)).toEqual(expected);
  });

  it("returns the stable ExchangeRow shape", () => {
    expect(store.list({ ids: [8] })[0]).toEqual({
      id: 8,
      time: "2025-01-15T10:07:00.000Z",
      method: "GET",
      path: "/api/v1/namespaces/default/pods",
      query: "limit=500",
      verb: "list",
      group: "",
      version: "v1",
      resource: "pods",
      subresource: "",
      namespace: "default",
      name: "",
      status: 403,
      durationMs: 15.3,
      error: null,
      context: "kind-dev",
      userAgent: "kubectl/v1.32.0 (linux/amd64) kubernetes/70d3cc9",
      bytesIn: 0,
      bytesOut: exchange().response!.bytes,
      flags: ["forbidden", "slow-request"],
      origin: "proxy",
      replayOf: null,
    });
    expect(store.list({ ids: [5] })[0]).toMatchObject({ status: null, bytesOut: 0, error: { code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:6443" } });
    expect(store.list({ ids: [6] })[0]!.replayOf).toBe(2);
  });

  it.each<[string, ListFilter, RegExp]>([
    ["a status that is no code", { status: "6xx" as never }, /status filter "6xx" is not a status code, a class \(1xx to 5xx\) or error/],
    ["a negative limit", { limit: -1 }, /limit -1 is not a whole number/],
    ["a since that is not a number", { since: Number.NaN }, /since filter NaN is not a number/],
    ["an id that is not whole", { ids: [1.5] }, /exchange id 1.5 is not a whole number/],
  ])("refuses %s with a one-line UserError", (_, filter, message) => {
    for (const call of [() => store.list(filter), () => store.count(filter), () => store.iterate(filter)]) {
      expect(call).toThrow(UserError);
      expect(call).toThrow(message);
    }
  });
});

describe("the analysis queries", () => {
  it("summarise flags per kind with first and last time and the lowest ids", () => {
    expect(store.flagSummary({})).toEqual([
      { kind: "forbidden", count: 2, first: FIXED_START + 2 * MIN, last: FIXED_START + 7 * MIN, ids: [2, 8] },
      { kind: "slow-request", count: 1, first: FIXED_START + 7 * MIN, last: FIXED_START + 7 * MIN, ids: [8] },
    ]);
    expect(store.flagSummary({ since: FIXED_START + 3 * MIN }, 1).map((f) => [f.kind, f.count, f.ids])).toEqual([["forbidden", 1, [8]], ["slow-request", 1, [8]]]);
  });

  it("group latencies with nearest-rank percentiles and errors", () => {
    expect(store.latencyGroups({ resource: "pods", verb: "list", context: "kind-dev" })).toMatchObject([
      { context: "kind-dev", verb: "list", group: "", resource: "pods", subresource: "", count: 4, errors: 3, bytesIn: 0, percentiles: [15.3, 900, 900, 900] },
    ]);
    expect(store.latencyGroups({}).map((g) => `${g.context} ${g.verb} ${g.resource}/${g.subresource} ${g.count}`)).toEqual([
      "kind-dev get pods/ 1", "kind-dev list pods/ 4", "kind-dev list secrets/ 1", "kind-dev patch deployments/scale 1", "prod list pods/ 1",
    ]);
    expect(store.latencyGroups({ limit: 2 }).map((g) => g.count)).toEqual([2]);
  });

  it("find slow and repeatedly failing requests, and TLS chain use", () => {
    expect(store.slowerThan({}, { context: "kind-dev", verb: "list", group: "", resource: "pods", subresource: "" }, 100).map((r) => [r.id, r.durationMs])).toEqual([[7, 900]]);
    expect(store.failures({}, 2).map((r) => r.id)).toEqual([5, 7, 8]);
    expect(store.failures({}, 1).map((r) => r.id)).toEqual([5, 2, 3, 4, 7, 8]);
    const [use, ...more] = store.chainUses({});
    expect(more).toEqual([]);
    expect({ ...use, count: use!.count() }).toMatchObject({ context: "kind-dev", firstSeen: FIXED_START, lastSeen: FIXED_START + 7 * MIN, count: 8, ids: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(use!.chain.length).toBe(2);
    // fewer examples than uses: the lowest ids
    expect(store.chainUses({}, 3).map((u) => u.ids)).toEqual([[1, 2, 3]]);
    expect(store.chainUses({ since: FIXED_START + 3 * MIN }, 2).map((u) => u.ids)).toEqual([[3, 4]]);
  });

  it("give each group's count and median as the latency groups do, without their sums", () => {
    for (const filter of [{}, { limit: 2 }, { context: "kind-dev", verb: "list" }] as ListFilter[]) {
      expect(store.groupMedians(filter)).toEqual(
        store.latencyGroups(filter, [0.5]).map((g) => ({ context: g.context, verb: g.verb, group: g.group, resource: g.resource, subresource: g.subresource, count: g.count, p50Ms: g.percentiles[0] })),
      );
    }
  });

  it("read a retry's session and Retry-After headers only for the exchanges asked about, as the exchange holds them", () => {
    const asked = store.retryHeaders([4, 1, 999]);
    expect([...asked.keys()].sort()).toEqual([1, 4]);
    for (const id of [1, 4]) expect(asked.get(id)).toEqual(retryHeadersOf(store.get(id)!));
    expect(store.retryHeaders([]).size).toBe(0);
  });

  it("replace one kind's flags with the ids given, leaving other kinds alone", () => {
    const flagged = (kind: string) => store.list({ flag: kind }).map((r) => r.id);
    store.replaceFlagKind("slow-request", [1, 8]);
    expect(flagged("slow-request")).toEqual([1, 8]);
    store.replaceFlagKind("slow-request", [3, 1]);
    expect(flagged("slow-request")).toEqual([1, 3]);
    expect(flagged("forbidden")).toEqual([2, 8]); // other kinds stay
    store.replaceFlagKind("slow-request", []);
    expect(flagged("slow-request")).toEqual([]);
    store.replaceFlagKind("slow-request", [8]); // as the file's other tests found it
    expect(flagged("slow-request")).toEqual([8]);
  });

  it("page newest first by id, below a given id", () => {
    expect(store.pageBefore({}, null, 3).map((r) => r.id)).toEqual([8, 7, 6]);
    expect(store.pageBefore({}, 6, 3).map((r) => r.id)).toEqual([5, 4, 3]);
    expect(store.pageBefore({ status: 403 }, null, 5).map((r) => r.id)).toEqual([8, 2]);
  });

  // last: it adds exchange 9 (header names as recorded: Node and HAR import lower-case them)
  it("read the session and Retry-After headers a retried request carries", () => {
    store.insertMany([
      exchange({ startedAt: FIXED_START + 8 * MIN, request: { headers: { "kubectl-session": "3f1c-run" } }, response: { status: 429, headers: { "retry-after": "7" } } }),
    ]);
    expect(store.retryHeaders([9]).get(9)).toEqual({ session: "3f1c-run", retryAfter: "7" });
    expect(store.retryHeaders([9]).get(9)).toEqual(retryHeadersOf(store.get(9)!));
  });
});
});
