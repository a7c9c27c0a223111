// writeDemoKubeconfig: a kubeconfig (mode 0600) with every context of the demo (contexts.ts), so kubectl
// can be pointed at each scripted problem by --context.
import { chmodSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import type { DemoCluster } from "./cluster.js";
import { DEMO_CONTEXTS, type DemoContext } from "./contexts.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

function serverOf(cluster: DemoCluster, c: DemoContext): string {
  if (c.server === "healthy") return cluster.url;
  if (c.server === "no-such-host") return "https://no-such-host.invalid:6443";
  return cluster.failures[c.server];
}

/** Writes a kubeconfig (0600) with every context of DEMO_CONTEXTS, current context demo-admin, namespace "default":
 * a context with its own user reaches the healthy server as cluster "demo"; one of a failure listener uses the admin's
 * token against its own cluster entry, named like the context. */
export function writeDemoKubeconfig(cluster: DemoCluster, path: string): void {
  const clusters: [string, string][] = [["demo", cluster.url]];
  const users: [string, Record<string, unknown>][] = [];
  const contexts: [string, string, string][] = [];
  for (const c of DEMO_CONTEXTS) {
    if (c.user) users.push([c.name, c.user(cluster.users)]);
    if (c.server !== "healthy") clusters.push([c.name, serverOf(cluster, c)]);
  }
  // the contexts with their own user first, then those of a failure listener (the order kubectl config get-contexts shows)
  for (const c of DEMO_CONTEXTS) if (c.user) contexts.push([c.name, c.server === "healthy" ? "demo" : c.name, c.name]);
  for (const c of DEMO_CONTEXTS) if (!c.user) contexts.push([c.name, c.server === "healthy" ? "demo" : c.name, "demo-admin"]);
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    "current-context": "demo-admin",
    clusters: clusters.map(([name, server]) => ({ name, cluster: { server, "certificate-authority-data": b64(cluster.caPem) } })),
    users: users.map(([name, user]) => ({ name, user })),
    contexts: contexts.map(([name, c, user]) => ({ name, context: { cluster: c, user, namespace: "default" } })),
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  chmodSync(path, 0o600);
}
