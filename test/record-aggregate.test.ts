// Requests without the proxy token, sent as a local attacker would (thousands, with large headers):
// the recording grows by a small bounded amount, one row per client address and minute with its count.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGGREGATE_HEADER_BYTES, CUT_HEADER } from "../src/record/aggregate.js";
import { Store } from "../src/store/store.js";
import { demoWorld, kubewire, record, type World } from "./helpers/world.js";

let world: World;
beforeAll(async () => {
  world = await demoWorld();
});
afterAll(async () => {
  await world?.close();
});

/** Sends n requests with a wrong token and a large header, 16 at a time on kept-alive connections; returns the statuses. */
async function unauthenticated(url: URL, ca: string, n: number, headerBytes: number): Promise<number[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ca });
  const junk = "x".repeat(headerBytes);
  const statuses: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      statuses.push(
        await new Promise<number>((done, fail) => {
          const req = https.request(new URL("/api/v1/namespaces/default/secrets", url), { agent, headers: { authorization: "Bearer not-the-token", "x-junk": junk } }, (res) => {
            res.resume();
            res.on("end", () => done(res.statusCode ?? 0));
          });
          req.on("error", fail);
          req.end();
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
  return statuses;
}

/** The size of a new recording with nothing in it. */
function emptyRecordingBytes(): number {
  const dir = mkdtempSync(join(tmpdir(), "kubewire-empty-"));
  try {
    const path = join(dir, "empty.db");
    Store.open(path).close();
    return statSync(path).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("requests without the proxy token", () => {
  it("grow the recording by a small bounded amount: one row per client address and minute, with the count", async () => {
    const session = await record(world);
    const statuses = await unauthenticated(session.client.url, session.client.caPem, 3000, 8 * 1024);
    const stats = await session.stop();
    expect(statuses.filter((s) => s === 401)).toHaveLength(3000);
    expect(stats).toMatchObject({ written: 3000, dropped: 0 });

    // 3,000 × 8 KiB of headers were sent; stopped, the recording (WAL checkpointed into it) grew by less than
    // 256 KiB over an empty one (its tables and indexes, a page each).
    const size = statSync(session.dbPath).size + (statSync(`${session.dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    expect(size - emptyRecordingBytes()).toBeLessThan(256 * 1024);

    const store = Store.open(session.dbPath, { readonly: true });
    try {
      const rows = store.list({});
      expect(rows.every((r) => r.error?.code === "PROXY_AUTH" && r.repeat !== undefined)).toBe(true);
      const minutes = rows.map((r) => `${Math.floor(Date.parse(r.time) / 60_000)}`);
      expect(new Set(minutes).size).toBe(rows.length); // the run may straddle a minute: at most one row for each
      expect(rows.length).toBeLessThanOrEqual(2);
      expect(rows.reduce((n, r) => n + r.repeat!.count, 0)).toBe(3000);
      for (const r of rows) expect(Date.parse(r.repeat!.lastSeen)).toBeGreaterThanOrEqual(Date.parse(r.time));
      const first = store.get(rows[0]!.id)!;
      const headerBytes = Object.entries(first.request.headers).reduce((n, [k, v]) => n + k.length + String(v).length, 0);
      expect(headerBytes).toBeLessThan(AGGREGATE_HEADER_BYTES + 100);
      expect(first.request.headers[CUT_HEADER]).toMatch(/^\d+ bytes of headers not kept$/);
      expect(JSON.stringify(first.request.headers)).not.toContain("not-the-token");
      expect(store.flagSummary({}).find((f) => f.kind === "proxy-auth")?.count).toBe(3000);
    } finally {
      store.close();
    }

    const ls = await kubewire(["ls", "--db", session.dbPath]);
    expect(ls.stdout).toMatch(/ PROXY_AUTH ×\d+/); // kubewire's 401 is its answer, not a status from the API server
    expect(ls.stdout).not.toMatch(/401 PROXY_AUTH/);
    const show = await kubewire(["show", "--db", session.dbPath, "1"]);
    expect(show.stdout).toMatch(/^Repeated: \d+ requests like this one from \S+, the last at \S+ \(headers kept from the first\)$/m);
  }, 60_000);
});
