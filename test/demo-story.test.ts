// The story a newcomer lives in the demo, end to end with real kubectl: a 403, the Role that
// `kubewire flags` suggests applied as printed, `kubewire replay --failed`, and the 403 becomes 200.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoWorld, kubectl, kubewire, record, type World } from "./helpers/world.js";

describe("the demo's 403 → apply the suggested Role → replay → 200 story", () => {
  let world: World;
  let db: string;
  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "story.db");
  });
  afterAll(async () => {
    await world?.close();
  });

  it("turns a forbidden list into a success with the Role that flags prints", async () => {
    const viewer = await record(world, "demo-viewer", { db });
    const denied = await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"]);
    await viewer.stop(100);
    expect(denied.stderr).toContain('Error from server (Forbidden): pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"');

    const found = JSON.parse((await kubewire(["flags", "--flag", "forbidden", "--db", db, "-o", "json"])).stdout);
    const yaml: string = found[0].advice.find((a: string) => a.includes("kind: Role"));
    expect(yaml).toContain("kind: RoleBinding");
    const file = join(world.dir, "grant.yaml");
    writeFileSync(file, yaml);
    const applied = await kubectl(world.kubeconfig, ["--context", "demo-admin", "apply", "--validate=false", "-f", file]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toMatch(/role\.rbac\.authorization\.k8s\.io\/\S+ created\nrolebinding\.rbac\.authorization\.k8s\.io\/\S+ created/);

    // what the API server now says, direct: the stored RoleBinding allows it
    expect((await kubectl(world.kubeconfig, ["--context", "demo-viewer", "auth", "can-i", "list", "pods", "-n", "kube-system"])).stdout.trim()).toBe("yes");

    const replayed = await kubewire(["replay", "--failed", "--kubeconfig", world.kubeconfig, "--db", db, "--state-dir", join(world.dir, "state")]);
    expect(replayed.stdout).toMatch(/status {3}403 → 200 {3}now succeeds/);
    expect(replayed.stdout).toMatch(/1 distinct request: 0 still fail, 1 now succeeds/);
    expect(replayed.code).toBe(0);
  });
});
