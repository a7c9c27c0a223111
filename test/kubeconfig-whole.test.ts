// The user's kubeconfig, whole, through kubewire: every context under its own name at its own
// listener (started on first use), and impersonation as kubectl sends it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import { flagsOf } from "../src/analyze/lib/engine.js";
import type { Exchange } from "../src/types.js";
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
      expect(urls.size).toBe(s.listeners.length); // one endpoint per context: caches never mix clusters
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
