// Faults on purpose: real clients (kubectl, client-node, the Python client) through kubewire with
// fault rules, what they see, what is recorded as injected, and `kubewire retries`' verdict.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { ruleFromInline } from "../src/fault/rules.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, kubectl, kubewire, record, recorded, eventually, type World } from "./helpers/world.js";

let world: World;
beforeAll(async () => {
  world = await demoWorld();
});
afterAll(async () => {
  await world?.close();
});

async function withFaults(fault: string[], body: (s: RecordingSession) => Promise<void>, name = "demo-admin"): Promise<void> {
  const session = await record(world, name, { db: join(world.dir, `${fault.join("+").replace(/[^\w]+/g, "_")}.db`), extras: { fault } });
  try {
    await body(session);
  } finally {
    await session.stop(100);
  }
}

describe("kubectl through kubewire with fault rules", () => {
  it("survives 429 three times on list pods, and retries says Retry-After was honoured", async () => {
    await withFaults(["rule=throttle-pod-lists,verb=list,resource=pods,namespace=default,status=429,retryAfter=1,times=3"], async (s) => {
      const r = await kubectl(s.kubeconfigPath, ["get", "pods", "-n", "default"], { timeoutMs: 30_000 });
      expect(r.stdout).toContain("web-1");
      expect(r.code).toBe(0);
      const pods = (await recorded(s)).filter((x) => x.ex.info.resource === "pods");
      expect(pods.map((x) => x.row.status)).toEqual([429, 429, 429, 200]);
      expect(pods.slice(0, 3).map((x) => x.ex.injected)).toEqual(Array(3).fill({ rule: "throttle-pod-lists", action: "429" }));
      expect(pods[3].ex.injected).toBeUndefined();
      expect(pods.slice(0, 3).every((x) => x.row.flags.join() === "injected")).toBe(true);

      const [verdict, flags, ls, show] = await Promise.all([
        kubewire(["retries", "--db", s.dbPath]),
        kubewire(["flags", "--db", s.dbPath]),
        kubewire(["ls", "--injected", "--db", s.dbPath]),
        kubewire(["show", String(pods[0].row.id), "--db", s.dbPath, "-o", "json"]),
      ]);
      expect(JSON.parse(show.stdout).injected).toEqual({ rule: "throttle-pod-lists", action: "429" });
      expect(verdict.code).toBe(0);
      expect(verdict.stdout, verdict.stdout).toMatch(/^kubectl\/v1\.\d+\.\d+  list pods in default: 429×3 injected by throttle-pod-lists; retried 3 times after .*; Retry-After honoured; succeeded .* after the first failure\n$/);
      expect(flags.stdout).not.toMatch(/throttled|server-error/);
      expect(flags.stdout).toContain("injected");
      expect(ls.stdout.trim().split("\n")).toHaveLength(4); // header and the three 429s
    });
  });
});

describe("the client's own timeout against a hang rule", () => {
  it("kubectl --request-timeout=2s gives up, and the exchange is recorded as injected", async () => {
    await withFaults(["rule=hang-gets,verb=get,resource=pods,hang"], async (s) => {
      const r = await kubectl(s.kubeconfigPath, ["get", "pod", "web-1", "-n", "default", "--request-timeout=2s"], { timeoutMs: 30_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Client\.Timeout|context deadline exceeded|timeout/i);
      const hung = await eventually(async () => (await recorded(s)).find((x) => x.ex.injected?.rule === "hang-gets"));
      expect(hung.row.status).toBeNull();
      expect(hung.ex.error).toMatchObject({ code: "CLIENT_ABORTED", phase: "headers" });
      expect(hung.ex.injected).toEqual({ rule: "hang-gets", action: "hang" });
      const verdict = await kubewire(["retries", "--db", s.dbPath]);
      expect(verdict.stdout, verdict.stdout).toMatch(/^kubectl\/\S+  get pods web-1 in default: hung injected by hang-gets; .*gave up waiting after [\d.]+s \(its own timeout\)/m);
    });
  });
});

describe("bad fault input", () => {
  it.each([
    ["verb=list,colour=red", "fault fault-1: colour: unknown field"],
    ["rule=x,verb=list,status=418", "fault x: action.status: 418 is not one kubewire answers with; use 401, 403, 410, 429, 500, 503, 504"],
    ["rule=y,verb=list,status=429,times=0", 'fault y: times: "0" is not a whole number of 1 or more'],
    ["rule=z,verb=list,hang,reset", "fault z: action: status, reset, hang, endWatchAfter... and goaway are alternatives: give one"],
    ["rule=w,verb=watch,endWatchAfterEvents=2,status=429", "fault w: action.status: 429 is not one kubewire answers with inside a watch; use 410, 500"],
  ])("--fault %s is refused as: %s", (inline, message) => {
    expect(() => ruleFromInline(inline, 1)).toThrow(message);
  });

  it("exec with a bad --fault or a bad rules file prints one line naming rule and field and exits 2 before running anything", async () => {
    const file = join(world.dir, "bad-faults.yaml");
    writeFileSync(file, "faults:\n- name: ok\n  match: {verb: list}\n  action: {status: 429}\n- match: {verb: list, colour: red}\n  action: {status: 500}\n");
    const base = ["exec", "--kubeconfig", world.kubeconfig, "--context", "demo-admin", "--state-dir", join(world.dir, "state")];
    const [inline, fromFile] = await Promise.all([
      kubewire([...base, "--fault", "verb=list,colour=red", "--", "echo", "ran"]),
      kubewire([...base, "--faults", file, "--", "echo", "ran"]),
    ]);
    expect([inline.code, inline.stdout]).toEqual([2, ""]);
    expect(inline.stderr).toMatch(/^error: fault fault-1: colour: unknown field; --fault takes rule, verb, [^\n]*\n$/);
    expect([fromFile.code, fromFile.stdout]).toEqual([2, ""]);
    expect(fromFile.stderr).toBe("error: fault fault-2: match.colour: unknown match field; match takes verb, group, resource, subresource, namespace, name, userAgent, method, path\n");
  });
});
