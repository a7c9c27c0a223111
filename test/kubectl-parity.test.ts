// kubectl prints the same through kubewire as it does against the cluster directly: any
// difference is a bug in the proxy (headers, bodies, status, streaming or upgrades changed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, kubectl, KUBECTL, record, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

/**
 * Ages, restart and log times move between two runs a few milliseconds apart (and with them the padding of
 * their table column: "(5m9s ago)" against "(5m10s ago)"); ports differ by design.
 */
function steady(text: string): string {
  return text
    .replace(/\(\S+ ago\)/g, "(ago)")
    .replace(/ {2,}/g, "  ")
    .replace(/^E\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ /gm, "E ")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "TIME"); // the demo's log lines are stamped relative to now
}

describe.skipIf(!haveKubectl)("kubectl's output through kubewire", () => {
  let world: World;
  const sessions = new Map<string, RecordingSession>();
  beforeAll(async () => {
    world = await demoWorld();
    for (const context of ["demo-admin", "demo-viewer"]) sessions.set(context, await record(world, context, { db: join(world.dir, "parity.db") }));
  });
  afterAll(async () => {
    for (const s of sessions.values()) await s.stop(100);
    await world?.close();
  });

  it.each([
    ["demo-admin", ["get", "pods", "-o", "wide"]],
    ["demo-admin", ["get", "all"]],
    ["demo-admin", ["get", "deploy,svc,cm", "-n", "default"]],
    ["demo-admin", ["get", "nodes", "-o", "wide"]],
    ["demo-admin", ["get", "ns", "kube-system", "-o", "yaml"]],
    ["demo-admin", ["get", "pods", "-n", "kube-system", "--show-labels"]],
    ["demo-admin", ["get", "pod", "web-1", "-o", "jsonpath={.status.podIP}"]],
    ["demo-admin", ["get", "pods", "--chunk-size=1"]],
    ["demo-admin", ["get", "pod", "does-not-exist"]],
    ["demo-admin", ["logs", "web-1", "--tail=2"]],
    ["demo-admin", ["exec", "web-2", "--", "echo", "same"]],
    ["demo-admin", ["auth", "whoami"]],
    ["demo-admin", ["auth", "can-i", "delete", "nodes"]],
    ["demo-admin", ["api-resources", "--api-group=apps"]],
    ["demo-admin", ["get", "--raw", "/readyz?verbose"]],
    ["demo-admin", ["get", "pods", "-n", "broken"]],
    ["demo-viewer", ["get", "pods"]],
    ["demo-viewer", ["get", "secrets"]],
    ["demo-viewer", ["delete", "pod", "web-1"]],
    ["demo-viewer", ["auth", "can-i", "list", "pods", "-n", "kube-system"]],
  ])("%s: kubectl %j prints the same", async (context, args) => {
    const through = await kubectl(sessions.get(context)!.kubeconfigPath, args as string[]);
    const direct = await kubectl(world.kubeconfig, ["--context", context, ...(args as string[])], { cacheDir: join(world.dir, `direct-cache-${context}`) });
    expect(steady(through.stdout)).toBe(steady(direct.stdout));
    expect(steady(through.stderr)).toBe(steady(direct.stderr));
    expect(through.code).toBe(direct.code);
  });
});
