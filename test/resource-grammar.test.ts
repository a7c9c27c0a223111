// One --resource grammar, kubectl's RESOURCE[.GROUP][/SUBRESOURCE], everywhere a resource is named:
// the filters of ls, flags, stats and export, the web view's API and fault rules, checked on a
// recording of real kubectl through the simulated cluster and with a fault rule kubectl meets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseResourceArg } from "../src/resource-arg.js";
import { filterFromQuery } from "../src/ui/query.js";
import { ruleFromInline } from "../src/fault/rules.js";
import { UserError } from "../src/errors.js";
import { parseResource } from "../src/doctor/authorization.js";
import { canPairs } from "../src/cli/commands/doctor.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

describe("the resource grammar", () => {
  it.each([
    ["pods", { resource: "pods" }],
    ["deployments.apps", { resource: "deployments", group: "apps" }],
    ["pods/log", { resource: "pods", subresource: "log" }],
    ["deployments.apps/scale", { resource: "deployments", group: "apps", subresource: "scale" }],
    ["deployments.v1.apps", { resource: "deployments", version: "v1", group: "apps" }],
    ["ingresses.v1beta1.networking.k8s.io", { resource: "ingresses", version: "v1beta1", group: "networking.k8s.io" }],
    ["certificatesigningrequests.certificates.k8s.io/approval", { resource: "certificatesigningrequests", group: "certificates.k8s.io", subresource: "approval" }],
    ["widgets.example.com", { resource: "widgets", group: "example.com" }],
    ["deploy", { resource: "deployments" }],
    ["po/log", { resource: "pods", subresource: "log" }],
    ["Pods", { resource: "pods" }],
    ["pod", { resource: "pods" }],
    ["netpol.networking.k8s.io", { resource: "networkpolicies", group: "networking.k8s.io" }],
    ["po.example.com", { resource: "po", group: "example.com" }],
  ])("reads %s", (text, expected) => {
    expect(parseResourceArg(text)).toEqual(expected);
  });

  it.each([
    ["apps/deployments", '--resource "apps/deployments": the group follows the resource after a dot, as kubectl writes it: deployments.apps'],
    ["rbac.authorization.k8s.io/roles", '--resource "rbac.authorization.k8s.io/roles": the group follows the resource after a dot, as kubectl writes it: roles.rbac.authorization.k8s.io'],
    ["apps/deployments/scale", '--resource "apps/deployments/scale": expected RESOURCE[.GROUP][/SUBRESOURCE] (as kubectl: pods, deployments.apps, pods/log, deploy)'],
    ["pods!", '--resource "pods!": "pods!" is not a resource name (lower-case letters, digits and "-"); expected RESOURCE[.GROUP][/SUBRESOURCE], as kubectl: pods, deployments.apps, pods/log, deploy'],
    ["pods/", '--resource "pods/": "" is not a subresource name (such as log, status, scale, exec)'],
    ["deployments..apps", '--resource "deployments..apps": ".apps" is not an API group name'],
  ])("refuses %s in one line that gives the kubectl spelling", (text, message) => {
    expect(() => parseResourceArg(text)).toThrow(new UserError(message));
  });

  it("is the web view's grammar too", () => {
    expect(filterFromQuery(new URLSearchParams("resource=deployments.apps/scale"))).toEqual({ resource: "deployments", group: "apps", subresource: "scale" });
    expect(() => filterFromQuery(new URLSearchParams("resource=apps/deployments"))).toThrow('resource "apps/deployments": the group follows the resource after a dot');
  });

  it("is doctor --can's grammar too, the group of a built-in resource filled in for its access review", () => {
    expect(parseResource("create", "deploy", "shop")).toEqual({ verb: "create", resource: "deployments", subresource: "", group: "apps", namespace: "shop" });
    expect(parseResource("get", "po/log", "shop")).toEqual({ verb: "get", resource: "pods", subresource: "log", group: "", namespace: "shop" });
    expect(parseResource("list", "widgets.example.com", "shop")).toMatchObject({ resource: "widgets", group: "example.com" });
    expect(() => canPairs(["list", "apps/deployments"])).toThrow('--can list "apps/deployments": the group follows the resource after a dot, as kubectl writes it: deployments.apps');
  });

  it("is the fault rules' grammar too, checked against their group and subresource fields", () => {
    expect(ruleFromInline("verb=list,resource=deployments.apps,status=403", 1).match).toEqual({ verb: "list", resource: "deployments", group: "apps" });
    expect(ruleFromInline("resource=po/log,status=500", 1).match).toEqual({ resource: "pods", subresource: "log" });
    expect(() => ruleFromInline("rule=r,resource=deployments.apps,group=batch,status=403", 1)).toThrow('fault r: match.group: "batch" contradicts match.resource "deployments.apps"');
    expect(() => ruleFromInline("rule=r,resource=deployments.v1.apps,status=403", 1)).toThrow("fault r: match.resource: a rule matches RESOURCE.GROUP; leave out the version (deployments.apps)");
    expect(() => ruleFromInline("rule=r,resource=apps/deployments,status=403", 1)).toThrow('fault r: match.resource "apps/deployments": the group follows the resource after a dot');
  });
});

describe.skipIf(!haveKubectl)("--resource on a recording of kubectl", () => {
  let world: World;
  let db: string;
  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "viewer.db");
    const s = await record(world, "demo-viewer", { db });
    try {
      await kubectl(s.kubeconfigPath, ["get", "deployments.apps"]); // 403
      await kubectl(s.kubeconfigPath, ["get", "pods"]);
      await kubectl(s.kubeconfigPath, ["logs", "web-1"]);
    } finally {
      await s.stop(100);
    }
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  const resources = async (cmd: string, resource: string) =>
    (await kubewire([cmd, "--db", db, "--resource", resource, "-o", `jsonpath={range .items[*]}{.verb} {.resource}.{.group}/{.subresource}{"\\n"}{end}`])).stdout;

  it.each([
    ["deployments.apps", "list deployments.apps/\n"],
    ["deploy", "list deployments.apps/\n"],
    ["deployments.v1.apps", "list deployments.apps/\n"],
    ["deployments.v2.apps", ""],
    ["deployments.batch", ""],
    ["pods/log", "get pods./log\n"],
    ["po", "list pods./\nget pods./\nget pods./log\n"], // a resource without /SUBRESOURCE takes in its subresources
  ])("ls --resource %s", async (resource, expected) => {
    expect(await resources("ls", resource)).toBe(expected);
  });

  it("filters flags, stats and export the same way", async () => {
    const [flags, stats, jsonl] = await Promise.all([
      kubewire(["flags", "--db", db, "--resource", "deploy", "-o", "name"]),
      kubewire(["stats", "--db", db, "--resource", "pods/log", "-o", "jsonpath={.items[*].subresource}"]),
      kubewire(["export", "--jsonl", "-", "--db", db, "--resource", "deployments.apps"]),
    ]);
    expect(flags.stdout).toBe("forbidden\n");
    expect(stats.stdout).toBe("log");
    expect(jsonl.stdout.trim().split("\n").map((l) => JSON.parse(l).info.resource)).toEqual(["deployments"]);
  });

  it("refuses the old group/resource order with the kubectl spelling, exit 2", async () => {
    const r = await kubewire(["ls", "--db", db, "--resource", "apps/deployments"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --resource "apps/deployments": the group follows the resource after a dot, as kubectl writes it: deployments.apps\n');
  });

  it("injects a fault into the resource a rule names as kubectl does, deploy meaning deployments.apps", async () => {
    const s = await record(world, "demo-admin", { db: join(world.dir, "fault.db"), extras: { fault: ["rule=no-deploys,verb=list,resource=deploy,status=503"] } });
    try {
      const deploys = await kubectl(s.kubeconfigPath, ["get", "deployments.apps", "--request-timeout=5s"]);
      const pods = await kubectl(s.kubeconfigPath, ["get", "pods"]);
      expect(deploys.code).not.toBe(0);
      expect(pods.code).toBe(0);
      const injected = (await recorded(s)).filter((x) => x.ex.injected).map((x) => `${x.ex.info.resource}.${x.ex.info.apiGroup} ${x.row.status}`);
      expect(new Set(injected)).toEqual(new Set(["deployments.apps 503"]));
      // retries takes the templates too: one verdict per injected request, its rule named
      const verdicts = await kubewire(["retries", "--db", s.dbPath, "-o", "custom-columns=RULE:.rule,TRIES:.attempts[*].outcome"]);
      const lines = verdicts.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^RULE +TRIES$/);
      expect(lines.slice(1).length).toBeGreaterThan(0);
      for (const l of lines.slice(1)) expect(l).toMatch(/^no-deploys +503(,503)*$/);
    } finally {
      await s.stop(100);
    }
  });
});
