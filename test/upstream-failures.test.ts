// A user whose API server cannot be reached: kubectl prints kubewire's explanation (a 502 kubewire wrote),
// while the recording says the API server never answered: no status, the error, and what kubewire answered
// the client apart from it. ls --status error finds them, flags calls a header timeout a timeout (not slow),
// show says who answered, and a HAR export writes status 0 with _error as mitmproxy does, and reads back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type Run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the upstream failure tests are SKIPPED ***\n`);

function all(db: string): Exchange[] {
  const s = Store.open(db, { readonly: true });
  try {
    return [...s.iterate()];
  } finally {
    s.close();
  }
}

describe.skipIf(!haveKubectl)("an API server kubewire cannot reach", () => {
  let world: World;
  let db: string;
  let refused: Run;
  let hung: Run;

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "failures.db");
    const r = await record(world, "demo-refused", { db });
    refused = await kubectl(r.kubeconfigPath, ["get", "pods", "--request-timeout=5s"]);
    await r.stop(100);
    // five ordinary lists make the usual latency of "list pods"; the sixth waits on a namespace that never answers
    const admin = await record(world, "demo-admin", { db, headersTimeoutMs: 1500 });
    for (let i = 0; i < 5; i++) await kubectl(admin.kubeconfigPath, ["get", "pods"]);
    hung = await kubectl(admin.kubeconfigPath, ["get", "pods", "-n", "hang", "--request-timeout=20s"]);
    await admin.stop(100);
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  it("shows kubectl kubewire's explanation, which kubewire answered on the wire", () => {
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/kubewire: cannot reach the API server https:\/\/127\.0\.0\.1:\d+: dial 127\.0\.0\.1:\d+: connection refused \[ECONNREFUSED, connect\]/);
    expect(hung.code).toBe(1);
    expect(hung.stderr).toContain("the API server sent no response headers within 1500 ms");
  });

  it("records no response for them: the error, and kubewire's 502 kept as its own answer", () => {
    const failed = all(db).filter((ex) => ex.error);
    expect(failed.length).toBeGreaterThan(0);
    for (const ex of failed) {
      expect(ex.response).toBeNull();
      expect(ex.proxyAnswer?.status).toBe(502);
      expect(ex.proxyAnswer?.body.data).toMatch(/^kubewire: cannot reach the API server/);
    }
    expect(failed.map((ex) => ex.error!.code)).toContain("ETIMEDOUT");
  });

  it("finds every refused and timed-out request with ls --status error, and none with --status 502", async () => {
    const errors = JSON.parse((await kubewire(["ls", "--db", db, "--status", "error", "-o", "json"])).stdout);
    const codes = new Set(errors.map((r: { error: { code: string } }) => r.error.code));
    expect([...codes].sort()).toEqual(["ECONNREFUSED", "ETIMEDOUT"]);
    expect(errors.every((r: { status: unknown }) => r.status === null)).toBe(true);
    const r502 = await kubewire(["ls", "--db", db, "--status", "502", "-o", "json"]);
    expect(JSON.parse(r502.stdout)).toEqual([]);
  });

  it("calls a header timeout a timeout, never a slow response", async () => {
    const r = await kubewire(["flags", "--db", db, "-o", "json"]);
    const kinds = JSON.parse(r.stdout).map((f: { kind: string }) => f.kind);
    expect(kinds).toContain("timeout");
    expect(kinds).toContain("refused");
    expect(kinds).not.toContain("slow");
    expect(kinds).not.toContain("server-error");
  });

  it("show says the API server gave no response and what kubewire answered the client", async () => {
    const id = all(db).find((ex) => ex.error?.code === "ECONNREFUSED")!.id!;
    const r = await kubewire(["show", String(id), "--db", db]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Status:   no response from the API server; kubewire answered the client 502\n");
    expect(r.stdout).toMatch(/\nAnswered by kubewire \(502, not from the API server\)\n/);
    expect(r.stdout).not.toContain("Response headers");
    expect(r.stdout).toMatch(/kubewire: cannot reach the API server .*connection refused/);
  });

  it("exports them to HAR as status 0 with _error, and imports them back as they were", async () => {
    const file = join(world.dir, "failures.har");
    expect((await kubewire(["export", "--har", file, "--db", db])).code).toBe(0);
    const har = JSON.parse(readFileSync(file, "utf8"));
    const entry = har.log.entries.find((e: { _kubewire: Exchange }) => e._kubewire.error?.code === "ECONNREFUSED");
    expect(entry.response.status).toBe(0);
    expect(entry.response._error).toMatch(/^ECONNREFUSED: dial 127\.0\.0\.1:\d+: connection refused$/);
    expect(entry._kubewire.proxyAnswer.status).toBe(502);
    const again = join(world.dir, "reimported.db");
    expect((await kubewire(["import", "--har", file, "--db", again])).code).toBe(0);
    const back = all(again).find((ex) => ex.error?.code === "ECONNREFUSED")!;
    expect(back.response).toBeNull();
    expect(back.proxyAnswer?.status).toBe(502);
    const errors = JSON.parse((await kubewire(["ls", "--db", again, "--status", "error", "-o", "json"])).stdout);
    expect(errors.length).toBe(all(db).filter((ex) => ex.error).length);
  });
});
