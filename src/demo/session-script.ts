// The scripted session `kubewire demo` drives through @kubernetes/client-node: good
// requests and each kind of failure, so that the recording has something to show.
import { STATUS_CODES } from "node:http";
import { AppsV1Api, CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import { plural } from "../analyze/lib/util.js";

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

/** The first sentence of a message, whole: a long explanation is never cut mid-word. */
function firstSentence(text: string): string {
  const line = text.split("\n")[0].split(/ -- | — /)[0].trim(); // kubewire's 502 text puts its details after " -- "
  const sentence = /^(.+?[.!?])(\s|$)/.exec(line)?.[1] ?? line;
  if (sentence.length <= 200) return sentence;
  const cut = sentence.slice(0, 200);
  return `${cut.slice(0, cut.lastIndexOf(" ") > 0 ? cut.lastIndexOf(" ") : 200)} …`;
}

/** The Status message (or text body) of client-node's ApiException, whose own message starts "HTTP-Code: 401". */
function bodyText(body: unknown): string {
  if (body === undefined || body === null || body === "") return "";
  try {
    const parsed = typeof body === "string" ? JSON.parse(body) : body;
    if (parsed && typeof parsed === "object" && "message" in parsed) return String((parsed as { message: string }).message);
    return typeof parsed === "string" ? parsed : "";
  } catch {
    return String(body); // a text/plain body, such as kubewire's explanation on a 502
  }
}

function describeError(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (typeof e.code === "number") {
    const fromMessage = /^Message: (.*)$/m.exec(e.message ?? "")?.[1] ?? "";
    const text = bodyText(e.body) || (fromMessage && !/^HTTP-Code/.test(fromMessage) ? fromMessage : "") || STATUS_CODES[e.code] || "";
    return `HTTP ${e.code}${text ? `: ${firstSentence(text)}` : ""}`;
  }
  return firstSentence(e.message ?? String(err));
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
    return `${plural(pods.items.length, "pod")}: ${pods.items.map((p) => p.metadata?.name).join(", ")}`;
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
    return plural(events, "event");
  });
  await step(steps, "list deployments (admin)", async () => {
    const d = await apps.client.listNamespacedDeployment({ namespace: "default" });
    return plural(d.items.length, "deployment");
  });
  const viewer = api(k.viewer, CoreV1Api);
  await step(steps, "list pods in kube-system (viewer)", async () => plural((await viewer.client.listNamespacedPod({ namespace: "kube-system" })).items.length, "pod"), true);
  await step(steps, "delete pod web-2 (viewer)", async () => {
    await viewer.client.deleteNamespacedPod({ name: "web-2", namespace: "default" });
    return "deleted";
  }, true);
  const bad = api(k.badToken, CoreV1Api);
  await step(steps, "list pods with a revoked token", async () => plural((await bad.client.listNamespacedPod({ namespace: "default" })).items.length, "pod"), true);
  const expired = api(k.expiredCert, CoreV1Api);
  await step(steps, "list pods on a server whose certificate expired", async () => plural((await expired.client.listNamespacedPod({ namespace: "default" })).items.length, "pod"), true);
  await step(steps, "list pods in a throttled namespace (admin)", async () => plural((await admin.client.listNamespacedPod({ namespace: "throttled" })).items.length, "pod"), true);
  await step(steps, "list pods while the server fails (admin)", async () => plural((await admin.client.listNamespacedPod({ namespace: "broken" })).items.length, "pod"), true);
  await step(steps, "list pods in a slow namespace (admin)", async () => plural((await admin.client.listNamespacedPod({ namespace: "slow" })).items.length, "pod"));
  return steps;
}
