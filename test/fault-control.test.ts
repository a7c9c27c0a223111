// Changing the faults of a running `kubewire start` with `kubewire faults add|ls|rm` (its control
// endpoint and the run's token), and the JSON connection log it writes with --log-format json.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { demoWorld, eventually, kubectl, kubewire, ROOT, type World } from "./helpers/world.js";

describe("kubewire faults on a running start", () => {
  let world: World;
  let start: ChildProcess;
  let out = "";
  const state = () => join(world.dir, "state");
  const kubeconfig = () => join(world.dir, "proxy.kubeconfig");
  const logFile = () => join(world.dir, "connections.jsonl");

  beforeAll(async () => {
    world = await demoWorld();
    start = spawn(process.execPath, [
      join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", world.kubeconfig, "--context", "demo-admin", "--listen", "127.0.0.1:0",
      "--state-dir", state(), "--db", join(world.dir, "run.db"), "--write-kubeconfig", kubeconfig(), "--log-format", "json", "--log-file", logFile(),
    ], { stdio: ["ignore", "pipe", "pipe"] });
    start.stdout!.on("data", (d) => (out += d));
    start.stderr!.on("data", (d) => (out += d));
    await eventually(() => (out.includes("export KUBECONFIG=") ? true : undefined), 20_000);
  }, 30_000);

  afterAll(async () => {
    if (start && start.exitCode === null) {
      const exited = new Promise((r) => start.once("exit", r));
      start.kill("SIGTERM");
      await exited;
    }
    await world?.close();
  });

  it("adds a rule that the next kubectl meets, lists it with its counters, removes it", async () => {
    const added = await kubewire(["faults", "add", "--state-dir", state(), "rule=maintenance,verb=list,resource=pods,status=429,retryAfter=1,times=1"]);
    expect(added.stderr).toBe("");
    expect(added.stdout).toBe("added maintenance\n");

    expect((await kubectl(kubeconfig(), ["get", "pods", "-n", "default"])).code).toBe(0);
    const ls = await kubewire(["faults", "ls", "--state-dir", state(), "-o", "json"]);
    expect(JSON.parse(ls.stdout).faults).toEqual([
      { name: "maintenance", match: { verb: "list", resource: "pods" }, action: { status: 429, retryAfter: 1 }, times: 1, matched: 2, fired: 1 },
    ]);
    const [names, columns] = await Promise.all([
      kubewire(["faults", "ls", "--state-dir", state(), "-o", "jsonpath={.faults[*].name}"]),
      kubewire(["faults", "ls", "--state-dir", state(), "-o", "custom-columns=NAME:.name,FIRED:.fired"]),
    ]);
    expect(names.stdout).toBe("maintenance");
    expect(columns.stdout).toBe("NAME          FIRED\nmaintenance   1\n");
    expect((await kubewire(["faults", "rm", "--state-dir", state(), "maintenance"])).stdout).toBe("removed maintenance\n");
    const missing = await kubewire(["faults", "rm", "--state-dir", state(), "maintenance"]);
    expect([missing.code, missing.stderr]).toEqual([2, 'error: no fault rule named "maintenance"\n']);
  });

  it("refuses a control call without the run's token", async () => {
    const file = readFileSync(join(state(), (await import("node:fs")).readdirSync(state()).find((n) => n.startsWith("control-"))!), "utf8");
    const { url } = JSON.parse(file) as { url: string };
    expect((await fetch(`${url}/faults`)).status).toBe(401);
    expect((await fetch(`${url}/faults`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  });

  it("logs connection events as JSON lines: the connection opened, the fault injected, the retry seen", async () => {
    const events = await eventually(() => {
      const lines = readFileSync(logFile(), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      return lines.some((l) => l.event === "retry_seen") ? lines : undefined;
    });
    const opened = events.find((e) => e.event === "connection_opened")!;
    expect(opened).toMatchObject({ context: "demo-admin", protocol: expect.any(String) });
    expect(events.find((e) => e.event === "fault_injected")).toMatchObject({ rule: "maintenance", action: "429", verb: "list", resource: "pods" });
    expect(events.find((e) => e.event === "retry_seen")).toMatchObject({ method: "GET", path: "/api/v1/namespaces/default/pods", attempt: 2, status: 200 });
  });
});
