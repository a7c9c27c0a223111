// The scripted session `kubewire demo` drives through @kubernetes/client-node: good
// requests and each kind of failure, so that the recording has something to show.
import { AppsV1Api, CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";

export interface ScriptStep {
  /** what a person would have typed, roughly */
  title: string;
  /** what came back, in one line */
  outcome: string;
  ok: boolean;
}

function api<T>(kubeconfig: string, make: new (...args: never[]) => T): { kc: KubeConfig; client: T } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, client: kc.makeApiClient(make as never) as T };
}

function describeError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.code === "number") {
    let text = typeof e.body === "string" ? e.body : JSON.stringify(e.body ?? "");
    try {
      const parsed = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
      if (parsed && typeof parsed === "object" && "message" in parsed) text = String((parsed as { message: string }).message);
    } catch {
      /* text/plain body: keep it */
    }
    return `HTTP ${e.code}: ${(text.replace(/^""$/, "") || (e.message ?? "")).split("\n")[0].slice(0, 160)}`;
  }
  return (e.message ?? String(err)).split("\n")[0].slice(0, 160);
}

async function step(steps: ScriptStep[], title: string, run: () => Promise<string>, expectFailure = false): Promise<void> {
  try {
    const outcome = await run();
    steps.push({ title, outcome, ok: !expectFailure });
  } catch (err) {
    steps.push({ title, outcome: describeError(err), ok: expectFailure });
  }
}

/** Kubeconfigs written by kubewire for each identity the script uses. */
export interface ScriptKubeconfigs {
  admin: string;
  viewer: string;
  badToken: string;
  expiredCert: string;
}

export async function runDemoScript(k: ScriptKubeconfigs): Promise<ScriptStep[]> {
  const steps: ScriptStep[] = [];
  const admin = api(k.admin, CoreV1Api);
  const apps = api(k.admin, AppsV1Api);
  await step(steps, "list pods in default (admin)", async () => {
    const pods = await admin.client.listNamespacedPod({ namespace: "default" });
    return `${pods.items.length} pods: ${pods.items.map((p) => p.metadata?.name).join(", ")}`;
  });
  await step(steps, "read pod web-1 (admin)", async () => {
    const pod = await admin.client.readNamespacedPod({ name: "web-1", namespace: "default" });
    return `phase ${pod.status?.phase}`;
  });
  await step(steps, "create configmap demo-settings (admin)", async () => {
    await admin.client.deleteNamespacedConfigMap({ name: "demo-settings", namespace: "default" }).catch(() => undefined);
    const cm = await admin.client.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "demo-settings" }, data: { mode: "demo" } } });
    return `created, resourceVersion ${cm.metadata?.resourceVersion}`;
  });
  await step(steps, "watch pods for a moment (admin)", async () => {
    let events = 0;
    const watch = new Watch(admin.kc);
    const req = await watch.watch("/api/v1/namespaces/default/pods", {}, () => events++, () => undefined);
    await new Promise((r) => setTimeout(r, 400));
    req.abort();
    return `${events} events`;
  });
  await step(steps, "list deployments (admin)", async () => {
    const d = await apps.client.listNamespacedDeployment({ namespace: "default" });
    return `${d.items.length} deployments`;
  });
  const viewer = api(k.viewer, CoreV1Api);
  await step(steps, "list pods in kube-system (viewer)", async () => `${(await viewer.client.listNamespacedPod({ namespace: "kube-system" })).items.length} pods`, true);
  await step(steps, "delete pod web-2 (viewer)", async () => {
    await viewer.client.deleteNamespacedPod({ name: "web-2", namespace: "default" });
    return "deleted";
  }, true);
  const bad = api(k.badToken, CoreV1Api);
  await step(steps, "list pods with a revoked token", async () => `${(await bad.client.listNamespacedPod({ namespace: "default" })).items.length} pods`, true);
  const expired = api(k.expiredCert, CoreV1Api);
  await step(steps, "list pods on a server whose certificate expired", async () => `${(await expired.client.listNamespacedPod({ namespace: "default" })).items.length} pods`, true);
  await step(steps, "list pods in a throttled namespace (admin)", async () => `${(await admin.client.listNamespacedPod({ namespace: "throttled" })).items.length} pods`, true);
  await step(steps, "list pods while the server fails (admin)", async () => `${(await admin.client.listNamespacedPod({ namespace: "broken" })).items.length} pods`, true);
  await step(steps, "list pods in a slow namespace (admin)", async () => `${(await admin.client.listNamespacedPod({ namespace: "slow" })).items.length} pods`);
  return steps;
}
