// A user's session with `kubewire replay`: failures recorded through kubewire against the demo
// cluster, then replayed with another context, as a service account, and with mutations guarded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../src/store/store.js";
import type { ExchangeRow } from "../src/store/store.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the replay tests are SKIPPED ***\n`);

describe.skipIf(!haveKubectl)("kubewire replay against the demo cluster", () => {
  let world: World;
  let db: string;
  let common: string[];
  let rows: ExchangeRow[];

  const read = <T>(fn: (s: Store) => T): T => {
    const s = Store.open(db, { readonly: true });
    try {
      return fn(s);
    } finally {
      s.close();
    }
  };
  const find = (pred: (r: ExchangeRow) => boolean) => rows.find(pred)!;

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "recording.db");
    common = ["--kubeconfig", world.kubeconfig, "--db", db, "--state-dir", join(world.dir, "state")];
    const admin = await record(world, "demo-admin", { db });
    await kubectl(admin.kubeconfigPath, ["create", "configmap", "doomed", "--from-literal=a=b", "--validate=false"]);
    await kubectl(admin.kubeconfigPath, ["create", "secret", "generic", "s3cret", "--from-literal=password=hunter2", "--validate=false"]);
    await admin.stop(100);
    const small = await record(world, "demo-admin", { db, captureLimit: 64, writeKubeconfig: join(world.dir, "small.kubeconfig") });
    await kubectl(small.kubeconfigPath, ["create", "configmap", "big", `--from-literal=data=${"x".repeat(500)}`, "--validate=false"]);
    await small.stop(100);
    const viewer = await record(world, "demo-viewer", { db });
    expect((await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"])).code).toBe(1);
    expect((await kubectl(viewer.kubeconfigPath, ["delete", "configmap", "doomed"])).stderr).toContain("Forbidden");
    await viewer.stop(100);
    rows = read((s) => s.list());
  });
  afterAll(async () => {
    await world?.close();
  });

  it("replays the failed requests with the admin context: 403 becomes 200, and the replay is recorded and linked", async () => {
    const forbidden = find((r) => r.status === 403 && r.verb === "list" && r.namespace === "kube-system");
    const r = await kubewire(["replay", "--failed", "--context", "demo-admin", ...common]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("with context demo-admin (user demo-admin)");
    expect(r.stdout).toContain(`#${forbidden.id} GET /api/v1/namespaces/kube-system/pods`);
    expect(r.stdout).toMatch(/status {3}403 → 200 {3}now succeeds/);
    expect(r.stdout).toMatch(/latency {2}\S+ → \S+/);
    expect(r.stdout).toContain("chain    unchanged");
    expect(r.stdout).toMatch(/body {5}Status Forbidden \(pods is forbidden: User "viewer" cannot list .*\) → Table \(\d+ rows?\)/);
    expect(r.stdout).toMatch(/DELETE \/api\/v1\/namespaces\/default\/configmaps\/doomed\n {3}refused {2}delete changes state in the cluster; add --allow-mutations to replay it/);
    expect(r.stdout).toMatch(/1 distinct request: 0 still fail, 1 now succeeds; 1 refused/);
    expect(r.code).toBe(0);

    const replay = read((s) => s.list({ origin: "replay" })).find((x) => x.replayOf === forbidden.id)!;
    expect(replay).toMatchObject({ status: 200, context: "demo-admin", path: forbidden.path, verb: "list", replayOf: forbidden.id });
    expect(r.stdout).toContain(`recorded as #${replay.id}`);
    const ex = read((s) => s.get(replay.id))!;
    expect(ex.request.headers.authorization).toBe("Bearer [redacted]");
    expect(ex.request.headers["x-kubewire-replay-of"]).toBeUndefined();
    expect(ex.request.headers["user-agent"]).toMatch(/^kubectl\//);
  });

  it("gives the same comparison as data with -o json", async () => {
    const r = await kubewire(["replay", "--failed", "--context", "demo-admin", "-o", "json", ...common]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.summary).toEqual({ selected: 2, replayed: 1, recorded: 1, succeeded: 1, failed: 0, otherServer: 0, refused: 1 });
    const [c] = out.replayed;
    expect(c).toMatchObject({ method: "GET", path: "/api/v1/namespaces/kube-system/pods", succeeds: true, chainChanged: false });
    // flags as the store holds them for each side (none at all when no analyzer has run)
    expect(c.flagsGone).toEqual(c.before.flags.filter((f: string) => !c.after.flags.includes(f)));
    expect(c.flagsAppeared).toEqual(c.after.flags.filter((f: string) => !c.before.flags.includes(f)));
    expect(c.before).toMatchObject({ status: 403, error: null });
    expect(c.after).toMatchObject({ status: 200, error: null });
    expect(c.after.chain[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(c.replayId).toBe(c.after.id);
    expect(out.refused[0]).toMatchObject({ method: "DELETE", reason: expect.stringContaining("--allow-mutations") });
  });

  it("shows what a service account gets when replaying as it, and exits 1 because it still fails", async () => {
    const r = await kubewire(["replay", "--failed", "--context", "demo-admin", "--as", "system:serviceaccount:ns:sa", ...common]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("impersonating system:serviceaccount:ns:sa");
    expect(r.stdout).toMatch(/status {3}403 → 403 {3}still fails/);
    expect(r.stdout).toContain('User \\"system:serviceaccount:ns:sa\\" cannot list resource \\"pods\\"'.replace(/\\"/g, '"'));
    expect(r.stdout).toMatch(/1 distinct request: 1 still fails, 0 now succeed; 1 refused/);
    const replays = read((s) => s.list({ origin: "replay" }));
    const last = read((s) => s.get(replays.at(-1)!.id))!;
    expect(last.request.headers["impersonate-user"]).toBe("system:serviceaccount:ns:sa");
    expect(last.response?.body?.data).toContain('User \\"system:serviceaccount:ns:sa\\" cannot list'.replace(/\\"/g, '\\"'));
  });

  it("keeps replays apart from the program's own traffic: flags does not count them, ls --origin and show name them", async () => {
    const forbidden = await kubewire(["flags", "--flag", "forbidden", "-o", "json", ...common]);
    const programOnly = JSON.parse(forbidden.stdout)[0];
    const viewerFailures = rows.filter((r) => r.status === 403 && r.origin === "proxy").map((r) => r.id);
    expect(programOnly.requestIds.sort()).toEqual(viewerFailures.sort()); // the replay as the service account, also 403, is not one more
    const withReplays = JSON.parse((await kubewire(["flags", "--flag", "forbidden", "--origin", "replay", "-o", "json", ...common])).stdout)[0];
    expect(withReplays.requestIds.every((id: number) => !viewerFailures.includes(id))).toBe(true);
    const listed = await kubewire(["ls", "--origin", "replay", "-o", "name", "--db", db]);
    const replayIds = listed.stdout.trim().split("\n").filter(Boolean);
    expect(replayIds.length, listed.stderr).toBeGreaterThanOrEqual(1);
    const shown = await kubewire(["show", replayIds[0].replace("exchange/", ""), "--db", db]);
    expect(shown.stdout, shown.stderr).toMatch(/Origin: {3}kubewire replay of exchange \d+/);
    expect((await kubewire(["ls", "--origin", "nope", "--db", db])).stderr).toContain("option '--origin <origin>' argument 'nope' is invalid");
  });

  it("is answered 403 when the replaying user may not impersonate", async () => {
    const forbidden = find((r) => r.status === 403 && r.verb === "list");
    const r = await kubewire(["replay", String(forbidden.id), "--context", "demo-viewer", "--as", "kubernetes-admin", "-o", "json", ...common]);
    expect(r.code).toBe(1);
    const after = JSON.parse(r.stdout).replayed[0].after;
    expect(after.status).toBe(403);
    expect(after.body).toContain('users \"kubernetes-admin\" is forbidden: User \"viewer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope');
  });

  it("impersonates in the demo cluster as kube-apiserver does: an admin may, the viewer may not", async () => {
    const raw = ["get", "--raw", "/api/v1/namespaces/default/pods"];
    const sa = await kubectl(world.kubeconfig, ["--as", "system:serviceaccount:ns:sa", ...raw]);
    expect(sa.stderr.trim()).toBe('Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:ns:sa" cannot list resource "pods" in API group "" in the namespace "default"');
    const asViewer = await kubectl(world.kubeconfig, ["--as", "viewer", ...raw]);
    expect(asViewer.code).toBe(0);
    const escalate = await kubectl(world.kubeconfig, ["--context", "demo-viewer", "--as", "kubernetes-admin", ...raw]);
    expect(escalate.stderr.trim()).toBe('Error from server (Forbidden): users "kubernetes-admin" is forbidden: User "viewer" cannot impersonate resource "users" in API group "" at the cluster scope');
  });

  it("refuses a recorded delete without --allow-mutations and records nothing for it", async () => {
    const del = find((r) => r.verb === "delete");
    const before = read((s) => s.count({ origin: "replay" }));
    const r = await kubewire(["replay", String(del.id), "--context", "demo-admin", ...common]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("refused  delete changes state in the cluster; add --allow-mutations to replay it");
    expect(r.stdout).toContain("nothing replayed: all 1 selected request was refused");
    expect(read((s) => s.count({ origin: "replay" }))).toBe(before);
  });

  it("shows with --dry-run what a delete would send, without credentials, and sends nothing", async () => {
    const del = find((r) => r.verb === "delete");
    const before = world.cluster.requests;
    const r = await kubewire(["replay", String(del.id), "--context", "demo-admin", "--allow-mutations", "--dry-run", ...common]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Would replay 1 distinct request with the credentials of context demo-admin (dry run: nothing is sent)");
    expect(r.stdout).toContain(`#${del.id} DELETE /api/v1/namespaces/default/configmaps/doomed`);
    expect(r.stdout).toContain("authorization: (credentials of context demo-admin)");
    expect(r.stdout).not.toMatch(/Bearer/);
    expect(r.stdout).toContain("WILL change the cluster");
    expect(world.cluster.requests).toBe(before);
  });

  it("replays the delete with --allow-mutations, and the configmap is gone", async () => {
    const del = find((r) => r.verb === "delete");
    const r = await kubewire(["replay", String(del.id), "--context", "demo-admin", "--allow-mutations", ...common]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/status {3}403 → 200 {3}now succeeds/);
    expect(r.code).toBe(0);
    const got = await kubectl(world.kubeconfig, ["get", "configmap", "doomed"]);
    expect(got.stderr).toContain('configmaps "doomed" not found');
  });

  it("never replays a body that was truncated at capture or had its secret values redacted", async () => {
    const truncated = find((r) => r.verb === "create" && r.resource === "configmaps" && r.bytesIn > 64);
    const secret = find((r) => r.verb === "create" && r.resource === "secrets");
    const r = await kubewire(["replay", String(truncated.id), String(secret.id), "--allow-mutations", ...common]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/its body was truncated at capture \(\d+ bytes on the wire\), so it cannot be sent as it was/);
    expect(r.stdout).toContain("its recorded body had secret values redacted, so it cannot be sent as it was");
  });

  it("replays a watch as a short bounded watch", async () => {
    const admin = await record(world, "demo-admin", { db, writeKubeconfig: join(world.dir, "watch.kubeconfig") });
    // the server ends this watch after 2 s (kubectl's own --request-timeout does not end a watch); the replay asks for 1 s
    await kubectl(admin.kubeconfigPath, ["get", "--raw", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=2"], { timeoutMs: 30_000 });
    await admin.stop(100);
    const watch = read((s) => s.list({ verb: "watch" })).at(-1)!;
    const r = await kubewire(["replay", String(watch.id), "--watch-seconds", "1", "-o", "json", ...common]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout).replayed[0];
    expect(c.after.status).toBe(200);
    expect(c.after.body).toMatch(/^watch stream, \d+ events?$/);
    const replay = read((s) => s.get(c.after.id))!;
    expect(new URLSearchParams(replay.request.query).get("timeoutSeconds")).toBe("1");
    expect(replay.stream?.kind).toBe("watch");
  });

  it("rejects bad input with one line naming the problem and exit 2", async () => {
    const cases: [string[], string][] = [
      [[], "error: say what to replay: exchange IDs, --failed, or ls filters such as --status 403"],
      [["--failed", "--as-group", "devs"], "error: --as-group needs --as: Kubernetes impersonates groups only together with a user"],
      [["999999"], "error: no exchange with ID 999999 in"],
      [["--failed", "--concurrency", "0"], '--concurrency "0" must be a whole number from 1 to 64'],
      [["abc"], '"abc" is not an exchange ID'],
    ];
    const runs = await Promise.all(cases.map(([args]) => kubewire(["replay", ...args, ...common])));
    runs.forEach((r, i) => {
      expect(r.stderr).toContain(cases[i][1]);
      expect(r.code).toBe(2);
    });
  });
});
