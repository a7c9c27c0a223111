// A user's session ending in `kubewire flags`: real kubectl through a recording session against
// the simulated cluster, one failure class at a time, then flags -o json as a CI job would read it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Finding } from "../src/types.js";
import { Store, type ListFilter } from "../src/store/store.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

async function session(world: World, context: string, drive: (kubeconfig: string) => Promise<unknown>, extra = {}) {
  const s = await record(world, context, extra);
  try {
    await drive(s.kubeconfigPath);
  } finally {
    await s.stop(100);
  }
  return s.dbPath;
}

async function flags(db: string, args: string[] = []): Promise<{ code: number; findings: Finding[]; stderr: string }> {
  const r = await kubewire(["flags", "--db", db, "-o", "json", ...args]);
  return { code: r.code, findings: r.stdout ? (JSON.parse(r.stdout) as Finding[]) : [], stderr: r.stderr };
}

/** The ids `kubewire ls` would list for this filter (read in-process: the CLI itself is tested elsewhere). */
async function idsWhere(db: string, filter: ListFilter): Promise<number[]> {
  const store = Store.open(db, { readonly: true });
  try {
    return store.list(filter).map((r) => r.id);
  } finally {
    store.close();
  }
}

describe.skipIf(!haveKubectl)("kubewire flags on recorded kubectl sessions", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld({ slowMs: 1500, bigListBytes: 2 * 1024 * 1024 });
  });
  afterAll(async () => {
    await world?.close();
  });

  it("prints the Role and RoleBinding that grant exactly the verb and resource a 403 denied", async () => {
    const db = await session(world, "demo-viewer", (k) => kubectl(k, ["get", "pods", "-n", "kube-system"]));
    const { code, findings } = await flags(db);
    expect(code).toBe(1);
    const f = findings.find((x) => x.kind === "forbidden")!;
    expect(f.requestIds).toEqual(await idsWhere(db, { status: 403 }));
    expect(f.message).toBe('1 request forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system".');
    const yaml = f.advice.find((a) => a.startsWith("apiVersion:"))!;
    expect(yaml).toContain("kind: Role\nmetadata:\n  name: viewer-list-pods\n  namespace: kube-system\nrules:\n- apiGroups: [\"\"]\n  resources: [\"pods\"]\n  verbs: [\"list\"]");
    expect(yaml).toContain("kind: RoleBinding");
    expect(f.advice.join("\n")).toContain("kubectl auth can-i list pods --namespace kube-system --as viewer");
    const ls = await kubewire(["ls", "--db", db, "--flag", "forbidden"]);
    expect(ls.stdout).toMatch(/403\s+\S+\s+forbidden/);
  });

  it("says an expired JWT was rejected, decoding its sub and exp from the kubeconfig without printing it", async () => {
    const db = await session(world, "demo-expired-jwt", (k) => kubectl(k, ["get", "pods", "--request-timeout=5s"]));
    const { findings } = await flags(db, ["--kubeconfig", world.kubeconfig]);
    const f = findings.find((x) => x.kind === "unauthorized")!;
    expect(f.requestIds).toEqual(await idsWhere(db, { status: 401 }));
    expect(f.message).toMatch(/the bearer token of context "demo-expired-jwt" \(a JWT for system:serviceaccount:default:builder\) expired at /);
    expect(f.advice.join("\n")).toContain("kubectl create token builder --namespace default");
  });

  it.each([
    ["demo-expired-cert", "x509-expired", /renew the API server certificate/],
    ["demo-unknown-ca", "x509-unknown-authority", /certificate-authority-data/],
    ["demo-wrong-san", "x509-hostname-mismatch", /tls-server-name/],
    ["demo-self-signed", "x509-self-signed", /certificate-authority-data/],
    ["demo-not-yet-valid", "x509-not-yet-valid", /clock/],
    ["demo-refused", "refused", /host and port/],
    ["demo-dns", "dns", /DNS/],
  ])("with %s yields %s for every recorded request, with the fix", async (context, kind, advice) => {
    const db = await session(world, context, (k) => kubectl(k, ["get", "--raw", "/version", "--request-timeout=5s"]));
    const { code, findings } = await flags(db);
    expect(code).toBe(1);
    const f = findings.find((x) => x.kind === kind)!;
    expect(f).toBeDefined();
    expect(f.requestIds).toEqual(await idsWhere(db, {}));
    expect(f.advice.join("\n")).toMatch(advice);
  });

  it("names the phase and the client's own timeout for a namespace that never answers, and flags throttling, 500s and big lists", async () => {
    const db = await session(world, "demo-admin", async (k) => {
      await kubectl(k, ["get", "pods", "-n", "hang", "--request-timeout=1s"]);
      await kubectl(k, ["get", "pods", "-n", "throttled", "--request-timeout=2s"]);
      await kubectl(k, ["get", "pods", "-n", "broken"]);
      await kubectl(k, ["get", "--raw", "/api/v1/namespaces/big/configmaps"]);
      for (let i = 0; i < 5; i++) await kubectl(k, ["get", "--raw", "/api/v1/namespaces/default/pods"]);
      await kubectl(k, ["get", "--raw", "/api/v1/namespaces/slow/pods"]);
    });
    const { code, findings } = await flags(db);
    expect(code).toBe(1);
    const byKind = new Map(findings.map((f) => [f.kind, f]));
    const timeout = byKind.get("timeout")!;
    expect(timeout.message).toMatch(/timed out while waiting for headers: the client gave up \(the client's own timeout: 1\.0s\)/);
    expect(timeout.requestIds).toEqual(await idsWhere(db, { namespace: "hang" }));
    const throttled = byKind.get("throttled")!;
    expect(throttled.requestIds).toEqual(await idsWhere(db, { status: 429 }));
    expect(throttled.evidence.join("\n")).toContain("flow schema UID");
    expect(byKind.get("server-error")!.requestIds).toEqual(await idsWhere(db, { status: 500 }));
    expect(byKind.get("large-list")!.advice.join("\n")).toContain("limit=500");
    const slow = byKind.get("slow")!;
    expect(slow.requestIds).toEqual(await idsWhere(db, { namespace: "slow" }));
    // flags stored the whole-set kinds for ls
    expect(await idsWhere(db, { flag: "slow" })).toEqual(slow.requestIds);
  });

  it("tells a client without the proxy token to use the generated kubeconfig", async () => {
    const db = await session(world, "demo-admin", async (k) => {
      const stale = join(world.dir, "stale.kubeconfig");
      const { readFileSync } = await import("node:fs");
      writeFileSync(stale, readFileSync(k, "utf8").replace(/token: .*/, "token: not-the-proxy-token"));
      await kubectl(stale, ["get", "--raw", "/version"]);
    }, { db: join(world.dir, "proxy-auth.db") });
    const f = (await flags(db)).findings.find((x) => x.kind === "proxy-auth")!;
    expect(f.advice.join("\n")).toContain("use the kubeconfig that kubewire wrote");
  });

  it("exits 0 with an empty list when nothing went wrong, and prints stats per verb and resource", async () => {
    const db = await session(world, "demo-admin", (k) => kubectl(k, ["get", "--raw", "/api/v1/namespaces/default/pods"]), { db: join(world.dir, "clean.db") });
    const { code, findings } = await flags(db);
    expect(findings).toEqual([]);
    expect(code).toBe(0);
    const stats = JSON.parse((await kubewire(["stats", "--db", db, "-o", "json"])).stdout);
    expect(stats).toContainEqual(expect.objectContaining({ verb: "list", resource: "pods", count: 1, errors: 0 }));
  });

  it.each([
    [["flags", "--flag", "nope"], /^error: unknown flag kind "nope"; kinds: unauthorized, forbidden,/],
    [["ls", "--since", "10x"], /"10x" is neither a duration/],
    [["show", "999999"], /^error: no exchange with ID 999999/],
  ])("rejects bad input %j with one clear line and a non-zero exit", async (args, message) => {
    const db = join(world.dir, "clean.db");
    const r = await kubewire([...args, "--db", db]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it("refuses a database that does not exist, or is not kubewire's, in one line", async () => {
    const missing = await kubewire(["flags", "--db", join(world.dir, "none.db")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.split("\n")[0]).toMatch(/^error: no recording at /);
    const other = join(world.dir, "other.db");
    writeFileSync(other, "not sqlite at all, just text that is long enough to be a header of something else entirely ok");
    const r = await kubewire(["stats", "--db", other]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(/is not a SQLite database/);
  });

  it("tails exchanges as a running proxy records them", async () => {
    const s = await record(world, "demo-admin", { db: join(world.dir, "tail.db") });
    try {
      await kubectl(s.kubeconfigPath, ["get", "--raw", "/version"]);
      await s.recorder.flush();
      const before = Math.max(0, ...(await idsWhere(s.dbPath, {})));
      const tail = kubewire(["tail", "--db", s.dbPath, "--stop-after", "7s", "--interval", "100ms", "--backlog", "0", "-o", "json"]);
      await new Promise((r) => setTimeout(r, 3500)); // the CLI's start-up
      await kubectl(s.kubeconfigPath, ["get", "pods", "-n", "kube-system", "--request-timeout=5s"]);
      await s.recorder.flush();
      const out = await tail;
      const rows = out.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      expect(rows.some((r) => r.namespace === "kube-system" && r.verb === "list")).toBe(true);
      expect(rows.every((r) => r.id > before)).toBe(true);
    } finally {
      await s.stop(100);
    }
  });
});
