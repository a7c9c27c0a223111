// Faults on purpose against the other real clients: a @kubernetes/client-node program against
// "reset twice", its informer against a watch ended with an in-stream ERROR 410 (it relists;
// kubectl get -w only prints the Status and exits), and the Python client against "500 once".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import https from "node:https";
import { parse } from "yaml";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, makeInformer, type V1ConfigMap } from "@kubernetes/client-node";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, kubewire, record, recorded, run, type World } from "./helpers/world.js";

let world: World;
beforeAll(async () => {
  world = await demoWorld();
});
afterAll(async () => {
  await world?.close();
});

async function withFaults(fault: string[], body: (s: RecordingSession) => Promise<void>): Promise<void> {
  const session = await record(world, "demo-admin", { db: join(world.dir, `${fault.join("+").replace(/[^\w]+/g, "_")}.db`), extras: { fault } });
  try {
    await body(session);
  } finally {
    await session.stop(100);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a @kubernetes/client-node program", () => {
  it("retrying with exponential backoff gets through two connection resets, and retries says so", async () => {
    await withFaults(["rule=flaky-network,verb=list,resource=pods,reset,times=2"], async (s) => {
      const kc = new KubeConfig();
      kc.loadFromFile(s.kubeconfigPath);
      const api = kc.makeApiClient(CoreV1Api);
      // the retry loop a controller author writes: 400 ms doubling, at most 5 tries
      const seen: string[] = [];
      let names: string[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          names = (await api.listNamespacedPod({ namespace: "default" })).items.map((p) => p.metadata!.name!);
          break;
        } catch (err) {
          seen.push(String((err as Error).message).includes("ECONNRESET") || String((err as { code?: string }).code) === "ECONNRESET" ? "reset" : String(err));
          await sleep(400 * 2 ** attempt);
        }
      }
      expect(seen).toEqual(["reset", "reset"]);
      expect(names).toEqual(["db-0", "web-1", "web-2"]);
      const pods = (await recorded(s)).filter((x) => x.ex.info.resource === "pods");
      expect(pods.map((x) => [x.row.status, x.ex.error?.code ?? null, x.ex.injected?.action ?? null])).toEqual([
        [null, "ECONNRESET", "reset"],
        [null, "ECONNRESET", "reset"],
        [200, null, null],
      ]);
      const verdict = await kubewire(["retries", "--db", s.dbPath]);
      expect(verdict.stdout, verdict.stdout).toMatch(/^node-fetch\S*  list pods in default: ECONNRESET×2 injected by flaky-network; retried 2 times after [\d.]+m?s, [\d.]+m?s \(exponential backoff\); succeeded [\d.]+m?s after the first failure\n$/);
    });
  });

  it("its informer relists after a watch ended with an in-stream ERROR 410, and retries says so", async () => {
    await withFaults(["rule=expire-watch,verb=watch,resource=configmaps,endWatchAfterSeconds=0.5,status=410,times=1"], async (s) => {
      const kc = new KubeConfig();
      kc.loadFromFile(s.kubeconfigPath);
      const api = kc.makeApiClient(CoreV1Api);
      const informer = makeInformer<V1ConfigMap>(kc, "/api/v1/namespaces/default/configmaps", () => api.listNamespacedConfigMap({ namespace: "default" }));
      const connects: number[] = [];
      informer.on("connect", () => connects.push(Date.now()));
      informer.on("error", () => undefined);
      await informer.start();
      try {
        // the informer's first list and watch, then (after the injected 410) its relist and new watch
        await eventually(async () => {
          const cms = (await recorded(s)).filter((x) => x.ex.info.resource === "configmaps");
          return cms.filter((x) => x.ex.info.verb === "list").length >= 2 ? cms : undefined;
        }, 10_000);
      } finally {
        await informer.stop();
      }
      const cms = (await recorded(s)).filter((x) => x.ex.info.resource === "configmaps");
      expect(cms.slice(0, 3).map((x) => [x.ex.info.verb, x.ex.injected?.action ?? null])).toEqual([
        ["list", null],
        ["watch", "end-watch-410"],
        ["list", null],
      ]);
      const verdict = await kubewire(["retries", "--db", s.dbPath]);
      expect(verdict.stdout, verdict.stdout).toMatch(/^node-fetch\S*  watch configmaps in default: watch ended with ERROR 410 injected by expire-watch; relisted after [\d.]+m?s; succeeded [\d.]+m?s after the first failure\n$/);
    });
  });
});

const PYTHON = "/usr/bin/python3";
const havePython = (() => {
  try {
    execFileSync(PYTHON, ["-c", "import kubernetes"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!havePython) console.warn("\n*** python3-kubernetes is not installed: the Python fault test is SKIPPED ***\n");

describe.skipIf(!havePython)("the Python client against 500 once", () => {
  it("gets the 500 as an ApiException, succeeds when the program retries, and the verdict says so", async () => {
    const script = `
import sys, time
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
for attempt in range(4):
    try:
        pods = v1.list_namespaced_pod("default")
        print("pods:", len(pods.items))
        break
    except ApiException as e:
        print("attempt", attempt, "got", e.status, e.reason)
        time.sleep(0.2 * 2 ** attempt)
`;
    await withFaults(["rule=flaky,verb=list,resource=pods,status=500,times=1"], async (s) => {
      const r = await run(PYTHON, ["-c", script, s.kubeconfigPath]);
      expect(r.stdout).toBe("attempt 0 got 500 Internal Server Error\npods: 3\n");
      const verdict = await kubewire(["retries", "--db", s.dbPath]);
      expect(verdict.stdout, verdict.stdout).toMatch(/^OpenAPI-Generator\/\S+  list pods in default: 500 injected by flaky; retried 1 time after [\d.]+m?s; succeeded [\d.]+m?s after the first failure\n$/);
    });
  });
});


/** One GET through the proxy with the generated kubeconfig's CA and token. */
function get(kubeconfig: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const cfg = parse(readFileSync(kubeconfig, "utf8"));
  const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
  const agent = new https.Agent({ keepAlive: true }); // so that only a GOAWAY makes the answer say Connection: close
  return new Promise((resolve, reject) => {
    https
      .get(`${cfg.clusters[0].cluster.server}${path}`, { ca, agent, headers: { authorization: `Bearer ${cfg.users[0].user.token}` } }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => {
          agent.destroy();
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      })
      .on("error", reject);
  });
}

describe("faults that shape instead of fail", () => {
  it("a delay, a bandwidth limit and a GOAWAY (Connection: close on HTTP/1.1) deliver the API server's answer intact, recorded as injected", async () => {
    await withFaults(
      ["rule=slow-start,resource=pods,verb=list,delayMs=200,jitterMs=50", "rule=thin-pipe,resource=configmaps,verb=list,bytesPerSecond=2000", "rule=go-away,resource=services,goaway"],
      async (s) => {
        const direct = await get(s.kubeconfigPath, "/api/v1/namespaces/default/secrets");
        for (const [path, rule] of [["/api/v1/namespaces/default/pods", "slow-start"], ["/api/v1/namespaces/default/configmaps", "thin-pipe"], ["/api/v1/namespaces/default/services", "go-away"]]) {
          const r = await get(s.kubeconfigPath, path);
          expect(r.status, rule).toBe(200);
          expect(JSON.parse(r.body).items.length, rule).toBeGreaterThan(0);
          if (rule === "go-away") expect(r.headers.connection).toBe("close");
        }
        expect(direct.headers.connection).not.toBe("close");
        const rows = await recorded(s);
        expect(rows.map((x) => [x.ex.info.resource, x.row.status, x.ex.injected?.action ?? null, x.row.flags])).toEqual([
          ["secrets", 200, null, []],
          ["pods", 200, "delay", ["injected"]],
          ["configmaps", 200, "bandwidth", ["injected"]],
          ["services", 200, "goaway", ["injected"]],
        ]);
      },
    );
  });
});
