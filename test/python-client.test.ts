// A third real client: the official Python client (Debian's python3-kubernetes) through
// kubewire, reading the generated kubeconfig like any program would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { Store } from "../src/store/store.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, record, run, type World } from "./helpers/world.js";

const PYTHON = "/usr/bin/python3";
function havePythonClient(): boolean {
  try {
    execFileSync(PYTHON, ["-c", "import kubernetes"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const available = havePythonClient();
if (!available) console.warn("\n*** python3-kubernetes is not installed (apt-get install python3-kubernetes): the Python client tests are SKIPPED ***\n");

const SCRIPT = `
import sys
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
print("pods:", ",".join(sorted(p.metadata.name for p in v1.list_namespaced_pod("default").items)))
try:
    v1.list_namespaced_pod("kube-system")
    print("kube-system: allowed")
except ApiException as e:
    print("kube-system:", e.status)
`;

describe.skipIf(!available)("the Python client through kubewire", () => {
  let world: World;
  let viewer: RecordingSession;
  beforeAll(async () => {
    world = await demoWorld();
    viewer = await record(world, "demo-viewer");
  });
  afterAll(async () => {
    await viewer?.stop(100);
    await world?.close();
  });

  it("lists pods, is denied kube-system, and both exchanges are recorded", async () => {
    const r = await run(PYTHON, ["-c", SCRIPT, viewer.kubeconfigPath]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("pods: db-0,web-1,web-2\nkube-system: 403\n");
    await viewer.recorder.flush();
    const store = Store.open(viewer.dbPath, { readonly: true });
    const rows = store.list({ resource: "pods" });
    store.close();
    expect(rows.map((x) => [x.namespace, x.status])).toEqual([
      ["default", 200],
      ["kube-system", 403],
    ]);
    expect(rows[0].userAgent).toMatch(/^OpenAPI-Generator\/.*python/);
  });
});
