// The user's kubeconfig, whole, through kubewire: every cluster, user and context under its own name,
// a listener per cluster (started on first use), a token per user, and impersonation as kubectl sends it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import { flagsOf } from "../src/analyze/lib/engine.js";
import type { Exchange } from "../src/types.js";
import { replayCommand } from "../src/report/exchange-report.js";
import { demoWorld, kubectl, KUBECTL, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

/** A copy of the demo kubeconfig with `edit` applied. */
function variant(world: World, name: string, edit: (config: any) => void): string {
  const config = parse(readFileSync(world.kubeconfig, "utf8"));
  edit(config);
  const file = join(world.dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** A recorder that also keeps the exchanges handed to it, as the proxy built them. */
class KeepingRecorder extends Recorder {
  seen: Exchange[] = [];
  override record(ex: Exchange): void {
    this.seen.push(ex);
    super.record(ex);
  }
}

describe.skipIf(!haveKubectl)("the generated kubeconfig holds the user's whole kubeconfig", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld({ bigListBytes: 300 * 1024 });
  });
  afterAll(async () => world?.close());

  it("lists the same contexts, namespaces and current context as kubectl does without kubewire", async () => {
    const s = await record(world, "demo-admin", { wholeKubeconfig: true });
    try {
      for (const args of [["config", "get-contexts", "-o", "name"], ["config", "current-context"], ["config", "view", "-o", "jsonpath={range .contexts[*]}{.name}={.context.namespace}{\"\\n\"}{end}"]]) {
        const through = await kubectl(s.kubeconfigPath, args);
        const direct = await kubectl(world.kubeconfig, args);
        expect(through.stdout).toBe(direct.stdout);
      }
      const through = await kubectl(s.kubeconfigPath, ["config", "get-contexts"]);
      const direct = await kubectl(world.kubeconfig, ["config", "get-contexts"]);
      const columns = (out: string) => out.trim().split("\n").map((l) => [l.slice(0, 10).trim(), l.split(/\s+/).filter(Boolean).at(l.startsWith("*") ? 1 : 0), l.trim().split(/\s+/).at(-1)]);
      expect(columns(through.stdout)).toEqual(columns(direct.stdout));
    } finally {
      await s.stop(100);
    }
  });

  /**
   * The demo kubeconfig plus: a second cluster entry (demo-local, the same API server by another
   * name) that user demo-admin also uses, a context that differs from demo-admin only by namespace,
   * a cluster without a server and a user no context names.
   */
  const shared = (world: World) =>
    variant(world, "shared", (config) => {
      const demo = config.clusters.find((c: { name: string }) => c.name === "demo").cluster;
      config.clusters.push({ name: "demo-local", cluster: { ...demo, server: demo.server.replace("127.0.0.1", "localhost") } });
      config.clusters.push({ name: "no-server", cluster: {} });
      config.users.push({ name: "spare", user: { token: "not-a-real-token" } });
      config.contexts.push({ name: "local-admin", context: { cluster: "demo-local", user: "demo-admin", namespace: "default" } });
      config.contexts.push({ name: "admin-system", context: { cluster: "demo", user: "demo-admin", namespace: "kube-system" } });
    });

  /** What one kubectl run through the session was recorded as: its distinct (context, cluster, user) triples. */
  async function recordedAs(s: Awaited<ReturnType<typeof record>>, run: () => Promise<unknown>): Promise<string[]> {
    const before = (await recorded(s)).length;
    await run();
    return [...new Set((await recorded(s)).slice(before).map(({ ex }) => `${ex.context}|${ex.kubeCluster}|${ex.kubeUser}|${ex.clusterUrl}`))];
  }

  it("prints the same kubectl config listings as without kubewire: contexts, clusters, users, current context", async () => {
    const file = shared(world);
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { wholeKubeconfig: true, db: join(world.dir, "listings.db") });
    try {
      const listings = [
        ["config", "get-contexts"],
        ["config", "get-clusters"],
        ["config", "get-users"],
        ["config", "current-context"],
        ["config", "view", "-o", "jsonpath={.contexts}"],
        ["config", "view", "-o", "jsonpath={.current-context}"],
      ];
      // get-clusters and get-users print in Go's map order, which changes from run to run: compared as sets of lines
      const lines = (out: string) => out.split("\n").sort();
      for (const args of listings) {
        const [through, direct] = [await kubectl(s.kubeconfigPath, args), await kubectl(file, args)];
        if (args[1] === "get-clusters" || args[1] === "get-users") expect(lines(through.stdout), args.join(" ")).toEqual(lines(direct.stdout));
        else expect(through.stdout, args.join(" ")).toBe(direct.stdout);
        expect(through.code).toBe(0);
      }
      expect((await kubectl(s.kubeconfigPath, ["config", "get-contexts"])).stdout).toMatch(/local-admin\s+demo-local\s+demo-admin\s+default/);
      // one listener per cluster entry with a server: contexts of one cluster share its endpoint, as they share its server directly
      const generated = parse(readFileSync(s.kubeconfigPath, "utf8"));
      const server = (cluster: string) => generated.clusters.find((c: { name: string }) => c.name === cluster).cluster.server;
      expect(new Set(s.listeners.map((l) => l.url)).size).toBe(s.listeners.length);
      expect(s.listeners.map((l) => l.clusterName).sort()).toEqual(parse(readFileSync(file, "utf8")).clusters.map((c: { name: string }) => c.name).filter((n: string) => n !== "no-server").sort());
      expect(server("demo")).not.toBe(server("demo-local"));
      expect(server("no-server")).toBeUndefined();
      // a cluster without a server fails through kubewire as it does directly
      const [through, direct] = [await kubectl(s.kubeconfigPath, ["--cluster", "no-server", "get", "pods"]), await kubectl(file, ["--cluster", "no-server", "get", "pods"])];
      expect(through.code).not.toBe(0);
      expect(through.stderr.trim().split("\n").at(-1)).toBe(direct.stderr.trim().split("\n").at(-1));
    } finally {
      await s.stop(100);
    }
  });

  it("answers kubectl --context with each context's own cluster and user, and records the context naming that pair", async () => {
    const file = shared(world);
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { wholeKubeconfig: true, db: join(world.dir, "pairs.db") });
    const local = world.cluster.url.replace("127.0.0.1", "localhost");
    try {
      const cases: Array<[context: string, recordedAs: string]> = [
        ["demo-admin", `demo-admin|demo|demo-admin|${world.cluster.url}`],
        ["demo-viewer", `demo-viewer|demo|demo-viewer|${world.cluster.url}`], // same cluster, another user
        ["local-admin", `local-admin|demo-local|demo-admin|${local}`], // same user, another cluster
        ["admin-system", `demo-admin|demo|demo-admin|${world.cluster.url}`], // only the namespace differs: the current context names the pair
      ];
      for (const [context, as] of cases) {
        for (const args of [["auth", "whoami", "-o", "json"], ["get", "pods", "-o", "name"]]) {
          const cacheDir = join(world.dir, `cache-${context}`);
          let through: Awaited<ReturnType<typeof kubectl>> | undefined;
          const seen = await recordedAs(s, async () => (through = await kubectl(s.kubeconfigPath, ["--context", context, ...args], { cacheDir: `${cacheDir}-through` })));
          const direct = await kubectl(file, ["--context", context, ...args], { cacheDir: `${cacheDir}-direct` });
          expect(through!.stdout, `${context} ${args.join(" ")}`).toBe(direct.stdout);
          expect(through!.code).toBe(direct.code);
          expect(seen).toEqual([as]);
        }
      }
      expect((await kubectl(s.kubeconfigPath, ["--context", "admin-system", "get", "pods", "-o", "name"])).stdout).not.toContain("pod/web-1"); // kube-system, as its namespace says
    } finally {
      await s.stop(100);
    }
  });

  it("routes kubectl --cluster C --user U as kubectl does, a pair no context names included", async () => {
    const file = shared(world);
    const s = await record({ ...world, kubeconfig: file }, "admin-system", { wholeKubeconfig: true, db: join(world.dir, "unnamed.db") });
    const local = world.cluster.url.replace("127.0.0.1", "localhost");
    try {
      const cases: Array<[flags: string[], recordedAs: string]> = [
        [["--cluster", "demo-local", "--user", "demo-viewer"], `|demo-local|demo-viewer|${local}`], // no context names it
        [["--context", "local-admin", "--user", "demo-viewer"], `|demo-local|demo-viewer|${local}`],
        [["--user", "demo-viewer"], `demo-viewer|demo|demo-viewer|${world.cluster.url}`],
        [["--context", "demo-admin"], `admin-system|demo|demo-admin|${world.cluster.url}`], // the current context names this pair too
      ];
      for (const [flags, as] of cases) {
        const args = [...flags, "auth", "whoami", "-o", "json"];
        let through: Awaited<ReturnType<typeof kubectl>> | undefined;
        const seen = await recordedAs(s, async () => (through = await kubectl(s.kubeconfigPath, args)));
        const direct = await kubectl(file, args);
        expect(through!.stdout, flags.join(" ")).toBe(direct.stdout);
        expect(through!.code).toBe(0);
        expect(seen, flags.join(" ")).toEqual([as]);
      }
      // show's command to send it again names the pair, since no context does
      const unnamed = (await recorded(s)).find(({ ex }) => ex.context === "" && ex.info.resource === "selfsubjectreviews")!.ex;
      expect(replayCommand(unnamed)).toBe("kubectl --cluster demo-local --user demo-viewer create --raw '/apis/authentication.k8s.io/v1/selfsubjectreviews' -f body.json");
      // a user entry whose token the API server refuses: refused as directly
      const [through, direct] = [await kubectl(s.kubeconfigPath, ["--user", "spare", "get", "pods"]), await kubectl(file, ["--user", "spare", "get", "pods"])];
      expect(through.code).toBe(1);
      expect(through.stderr.trim().split("\n").at(-1)).toBe(direct.stderr.trim().split("\n").at(-1));
    } finally {
      await s.stop(100);
    }
  });

  it("sends kubectl --context demo-viewer to the viewer's own upstream, answered as without kubewire", async () => {
    const s = await record(world, "demo-admin", { wholeKubeconfig: true, db: join(world.dir, "viewer.db") });
    try {
      for (const args of [["get", "pods", "-o", "name"], ["get", "pods", "-n", "kube-system"], ["auth", "whoami"]]) {
        const through = await kubectl(s.kubeconfigPath, ["--context", "demo-viewer", ...args], { cacheDir: join(world.dir, "cache-viewer-through") });
        const direct = await kubectl(world.kubeconfig, ["--context", "demo-viewer", ...args], { cacheDir: join(world.dir, "cache-viewer-direct") });
        expect(through.stdout).toBe(direct.stdout);
        expect(through.stderr).toBe(direct.stderr);
        expect(through.code).toBe(direct.code);
      }
      const contexts = new Set((await recorded(s)).map(({ ex }) => `${ex.context} ${ex.kubeUser}`));
      expect([...contexts]).toEqual(["demo-viewer demo-viewer"]);
      const urls = new Set(s.listeners.map((l) => l.url));
      expect(urls.size).toBe(s.listeners.length); // one endpoint per cluster entry: caches never mix clusters
    } finally {
      await s.stop(100);
    }
  });

  it("applies as, as-groups, as-uid and as-user-extra as kubectl does and records the names it added", async () => {
    const file = variant(world, "impersonating", (config) => {
      const admin = config.users.find((u: { name: string }) => u.name === "demo-admin").user;
      Object.assign(admin, { as: "jane", "as-groups": ["devs", "ops"], "as-uid": "1234", "as-user-extra": { scopes: ["view", "edit"] } });
    });
    const recorder = new KeepingRecorder({ dbPath: join(world.dir, "impersonating.db"), flagsOf });
    recorder.open();
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { wholeKubeconfig: true, recorder });
    try {
      const through = await kubectl(s.kubeconfigPath, ["auth", "whoami"]);
      const direct = await kubectl(file, ["auth", "whoami"]);
      expect(through.stdout).toContain("jane");
      expect(through.stdout).toContain("[devs ops system:authenticated]");
      expect(through.stdout).toBe(direct.stdout);
      await recorder.flush();
      const review = recorder.seen.find((ex) => ex.info.resource === "selfsubjectreviews")!;
      expect(review.impersonation).toEqual({ user: "jane", uid: "1234", groups: ["devs", "ops"], extra: ["scopes"] });
      expect(JSON.stringify(review)).not.toContain(world.cluster.users.admin.token!);
      const store = Store.open(join(world.dir, "impersonating.db"));
      const stored = store.list({}).map((row) => store.get(row.id)!).find((ex) => ex.info.resource === "selfsubjectreviews")!;
      store.close();
      expect(stored.impersonation).toEqual(review.impersonation);
      // kubectl's --as wins over the kubeconfig's as: direct, and so through kubewire (no doubled groups)
      const asFlag = ["auth", "whoami", "--as", "bob", "--as-group", "qa"];
      const [throughAs, directAs] = [await kubectl(s.kubeconfigPath, asFlag), await kubectl(file, asFlag)];
      expect(throughAs.stdout).toContain("bob");
      expect(throughAs.stdout).toBe(directAs.stdout);
    } finally {
      await s.stop(100);
      await recorder.close();
    }
  });

  it("still starts when another context's certificate file is missing, and answers that context with the reason", async () => {
    const file = variant(world, "broken-other", (config) => {
      config.users.push({ name: "gone", user: { "client-certificate": "/nonexistent/client.crt", "client-key": "/nonexistent/client.key" } });
      config.contexts.push({ name: "broken", context: { cluster: "demo", user: "gone" } });
    });
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { wholeKubeconfig: true, db: join(world.dir, "broken.db") });
    try {
      expect((await kubectl(s.kubeconfigPath, ["get", "pods", "-o", "name"])).stdout).toContain("pod/web-1");
      const broken = await kubectl(s.kubeconfigPath, ["--context", "broken", "get", "--raw", "/version"]);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain("cannot read /nonexistent/client.crt");
    } finally {
      await s.stop(100);
    }
  });

  it("keeps the cluster's disable-compression for kubectl", async () => {
    const file = variant(world, "no-gzip", (config) => {
      config.clusters.find((c: { name: string }) => c.name === "demo").cluster["disable-compression"] = true;
    });
    const s = await record({ ...world, kubeconfig: file }, "demo-admin", { wholeKubeconfig: true });
    try {
      const generated = parse(readFileSync(s.kubeconfigPath, "utf8"));
      const ctx = generated.contexts.find((c: { name: string }) => c.name === "demo-viewer").context;
      expect(generated.clusters.find((c: { name: string }) => c.name === ctx.cluster).cluster["disable-compression"]).toBe(true);
      expect(s.upstream.disableCompression).toBe(true);
      // a client that asks for gzip anyway gets what client-go's DisableCompression would: no gzip
      const encoding = await new Promise<string | undefined>((done, fail) => {
        https
          .get(new URL("/api/v1/namespaces/big/configmaps", s.client.url), { ca: s.client.caPem, headers: { authorization: `Bearer ${s.client.token}`, "accept-encoding": "gzip" }, agent: false }, (res) => {
            res.resume();
            res.on("end", () => done(res.headers["content-encoding"]));
          })
          .on("error", fail);
      });
      expect(encoding).toBeUndefined();
    } finally {
      await s.stop(100);
    }
  });
});
