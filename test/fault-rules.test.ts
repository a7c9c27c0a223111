// The fault rules as data: the stable rules-file shape (the issue's example parses as written),
// the inline --fault syntax, matching, and the times/after/probability/until counters.
import { describe, expect, it } from "vitest";
import { FaultEngine, globRegExp } from "../src/fault/engine.js";
import { ruleFromInline, rulesFromYaml } from "../src/fault/rules.js";
import { judgeRetries } from "../src/fault/retries.js";
import { exchange } from "./fixtures/exchange.js";

const ISSUE_EXAMPLE = `faults:
- name: throttle-pod-lists          # optional; defaults to fault-1, fault-2, ...
  match: {verb: list, resource: pods, namespace: default}
  action: {status: 429, retryAfter: 1}
  times: 3
- match: {verb: watch, resource: configmaps}
  action: {endWatchAfterEvents: 2, status: 410}
`;

const listPods = exchange({}); // kubectl listing pods in default
const watchCms = exchange({ info: { verb: "watch", resource: "configmaps" }, request: { path: "/api/v1/namespaces/default/configmaps", query: "watch=true" } });

describe("the rules file", () => {
  it("reads the issue's example exactly as written", () => {
    expect(rulesFromYaml(ISSUE_EXAMPLE, "faults.yaml")).toEqual([
      { name: "throttle-pod-lists", match: { verb: "list", resource: "pods", namespace: "default" }, action: { status: 429, retryAfter: 1 }, times: 3 },
      { name: "fault-2", match: { verb: "watch", resource: "configmaps" }, action: { endWatchAfterEvents: 2, status: 410 } },
    ]);
  });

  it("takes the same fields inline", () => {
    expect(ruleFromInline("rule=throttle-pod-lists,verb=list,resource=pods,namespace=default,status=429,retryAfter=1,times=3", 1)).toEqual(rulesFromYaml(ISSUE_EXAMPLE, "f")[0]);
    expect(ruleFromInline("path=/api/v1/**,userAgent=kubectl*,reset,probability=0.5", 4)).toEqual({ name: "fault-4", match: { path: "/api/v1/**", userAgent: "kubectl*" }, action: { reset: true }, probability: 0.5 });
  });

  it.each([
    ["faults: 3", "faults.yaml: expected a top-level \"faults:\" list"],
    ["faults: []\nrules: []", 'faults.yaml: unknown top-level field "rules"'],
    ["faults:\n- match: {verb: list}\n  action: {explode: true}", "fault fault-1: action.explode: unknown action; action takes status,"],
    ["faults:\n- match: {verb: list}", "fault fault-1: action: missing"],
    ["faults:\n- name: a\n  match: {verb: list}\n  action: {status: 429}\n  probability: 2", "fault a: probability: 2 is not a number from 0 to 1"],
    ["faults:\n- name: a\n  match: {verb: list}\n  action: {status: 429}\n  until: soon", 'fault a: until: "soon" is neither an ISO time nor a duration'],
  ])("refuses %j with one line naming rule and field", (yaml, message) => {
    expect(() => rulesFromYaml(yaml, "faults.yaml")).toThrow(message);
  });
});

describe("matching and counting", () => {
  it("fires after the first N matches, then at most `times` times", () => {
    const engine = new FaultEngine([ruleFromInline("verb=list,resource=pods,status=500,after=1,times=2", 1)]);
    expect([1, 2, 3, 4, 5].map(() => engine.decide(listPods)?.name ?? null)).toEqual([null, "fault-1", "fault-1", null, null]);
    expect(engine.list()[0]).toMatchObject({ matched: 5, fired: 2 });
  });

  it("ends a watch only for watches, and ignores requests it does not match", () => {
    const engine = new FaultEngine([ruleFromInline("resource=configmaps,endWatchAfterEvents=1", 1), ruleFromInline("namespace=kube-system,status=403", 2)]);
    expect(engine.decide(watchCms)?.name).toBe("fault-1");
    expect(engine.decide(exchange({ info: { resource: "configmaps" } }))).toBeNull();
    expect(engine.decide(listPods)).toBeNull();
  });

  it("fires with the given probability and stops at its deadline", () => {
    let now = 1000;
    const rolls = [0.1, 0.9, 0.2];
    const engine = new FaultEngine([{ ...ruleFromInline("verb=list,status=503,probability=0.5", 1), until: 2000 }], { random: () => rolls.shift()!, now: () => now });
    expect([engine.decide(listPods), engine.decide(listPods)].map((r) => r?.name ?? null)).toEqual(["fault-1", null]);
    now = 2001;
    expect(engine.decide(listPods)).toBeNull();
  });

  it.each([
    ["/api/v1/namespaces/*/pods", "/api/v1/namespaces/default/pods", true],
    ["/api/v1/namespaces/*/pods", "/api/v1/namespaces/default/pods/web-1", false],
    ["/api/**", "/api/v1/namespaces/default/pods/web-1", true],
  ])("path glob %s against %s: %s", (glob, path, ok) => {
    expect(globRegExp(glob, true).test(path)).toBe(ok);
  });
});

describe("the retry verdict", () => {
  const at = (s: number, over: Parameters<typeof exchange>[0]) => exchange({ startedAt: 1_000_000 + s * 1000, timing: { totalMs: 5 }, ...over });
  const throttled = { status: 429, headers: { "retry-after": "1" } };

  it("says a client that retried at once ignored Retry-After and looped hot", () => {
    const [v] = judgeRetries([
      at(0, { id: 1, response: throttled, injected: { rule: "t", action: "429" } }),
      at(0.01, { id: 2, response: throttled, injected: { rule: "t", action: "429" } }),
      at(0.02, { id: 3, response: throttled, injected: { rule: "t", action: "429" } }),
    ]);
    expect(v.line).toBe("kubectl/v1.32.0  list pods in default: 429×3 injected by t; retried 2 times after 5ms, 5ms (NO backoff: a hot loop); Retry-After IGNORED 2 of 2 times; gave up after 3 tries, 25ms after the first failure");
    expect([v.retryAfterHonoured, v.backoff, v.outcome]).toEqual([false, "hot-loop", "gave-up"]);
  });
});
