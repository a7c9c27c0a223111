// The replay safety policy on recorded exchanges (factory, ids pinned): what is refused and why,
// what is sent (credentials and hop-by-hop headers never), how watches are bounded.
import { describe, expect, it } from "vitest";
import { planReplay, type PolicyOptions, type SendPlan } from "../src/replay/safety-policy.js";
import { compare } from "../src/replay/compare.js";
import { exchange } from "./fixtures/exchange.js";

const READS: PolicyOptions = { allowMutations: false, watchSeconds: 5, asGroups: [] };
const ALL: PolicyOptions = { ...READS, allowMutations: true };
const body = (data: string, extra: object = {}) => ({ data, encoding: "utf8" as const, truncated: false, size: Buffer.byteLength(data), ...extra });

describe("replay safety policy", () => {
  it.each([
    ["POST", "create", "", "create changes state in the cluster; add --allow-mutations to replay it"],
    ["PUT", "update", "", "update changes state in the cluster; add --allow-mutations to replay it"],
    ["PATCH", "patch", "", "patch changes state in the cluster; add --allow-mutations to replay it"],
    ["DELETE", "delete", "", "delete changes state in the cluster; add --allow-mutations to replay it"],
    ["DELETE", "deletecollection", "", "deletecollection changes state in the cluster; add --allow-mutations to replay it"],
    ["GET", "get", "exec", "exec opens a session in the cluster (it may run commands or forward ports); add --allow-mutations to replay it"],
    ["POST", "create", "portforward", "portforward opens a session in the cluster (it may run commands or forward ports); add --allow-mutations to replay it"],
  ])("refuses %s (%s %s) without --allow-mutations", (method, verb, subresource, reason) => {
    const ex = exchange({ request: { method }, info: { verb, subresource } });
    expect(planReplay(ex, READS)).toEqual({ kind: "refuse", reason });
    expect(planReplay(ex, ALL).kind).toBe("send");
  });

  it("refuses a truncated body even with --allow-mutations", () => {
    const ex = exchange({ request: { method: "POST", bytes: 90000, body: body("{\"kind\":", { truncated: true, size: 90000 }) }, info: { verb: "create" } });
    expect(planReplay(ex, ALL)).toEqual({ kind: "refuse", reason: "its body was truncated at capture (90000 bytes on the wire), so it cannot be sent as it was" });
  });

  it("refuses a body whose secret values were redacted", () => {
    const data = JSON.stringify({ kind: "Secret", data: { password: "[redacted]" } });
    const ex = exchange({ request: { method: "POST", bytes: data.length, body: body(data) }, info: { verb: "create", resource: "secrets" } });
    expect(planReplay(ex, ALL)).toEqual({ kind: "refuse", reason: "its recorded body had secret values redacted, so it cannot be sent as it was" });
  });

  it("refuses an exchange that recorded no request at all", () => {
    expect(planReplay(exchange({ request: { method: "", path: "" } }), READS)).toEqual({ kind: "refuse", reason: "no request was recorded (the client failed before sending one)" });
  });

  it("sends the recorded headers without credentials or hop-by-hop headers, and the body byte for byte", () => {
    const data = JSON.stringify({ kind: "ConfigMap", metadata: { name: "x" } });
    const ex = exchange({
      request: {
        method: "POST",
        bytes: data.length,
        body: body(data),
        headers: { authorization: "Bearer [redacted]", cookie: "[redacted]", host: "127.0.0.1:6443", connection: "keep-alive", "content-length": String(data.length), "content-type": "application/json", "x-custom": "[redacted] value" },
      },
      info: { verb: "create", resource: "configmaps" },
    });
    const plan = planReplay(ex, ALL) as SendPlan;
    expect(Object.keys(plan.headers).sort()).toEqual(["accept", "content-type", "kubectl-command", "user-agent"]);
    expect(plan.headers["content-type"]).toBe("application/json");
    expect(plan.changes).toContain("dropped redacted header x-custom");
    expect(plan.body?.toString("utf8")).toBe(data);
    expect(plan.mode).toBe("plain");
  });

  it("replaces recorded impersonation with --as and --as-group", () => {
    const ex = exchange({ request: { headers: { "impersonate-user": "alice", "impersonate-group": "devs", accept: "application/json" } } });
    const plan = planReplay(ex, { ...READS, as: "system:serviceaccount:ns:sa", asGroups: ["ops", "audit"] }) as SendPlan;
    expect(plan.headers).toMatchObject({ accept: "application/json", "impersonate-user": "system:serviceaccount:ns:sa", "impersonate-group": ["ops", "audit"] });
    const kept = planReplay(ex, READS) as SendPlan;
    expect(kept.headers["impersonate-user"]).toBe("alice");
  });

  it("replays a watch from now, ended by the server after --watch-seconds", () => {
    const ex = exchange({ request: { query: "allowWatchBookmarks=true&resourceVersion=12345&watch=true&timeoutSeconds=540" }, info: { verb: "watch" } });
    const plan = planReplay(ex, { ...READS, watchSeconds: 2 }) as SendPlan;
    expect(plan.mode).toBe("watch");
    expect(plan.query).toBe("allowWatchBookmarks=true&watch=true&timeoutSeconds=2");
    expect(plan.changes).toEqual(["dropped resourceVersion=12345 (watch from now)", "bounded watch: timeoutSeconds=2"]);
  });
});

describe("replay comparison", () => {
  it("says 403 → 200, chain unchanged, flags gone, and what the body became", () => {
    const before = exchange({
      id: 7,
      response: { status: 403, body: body(JSON.stringify({ kind: "Status", reason: "Forbidden", message: 'pods is forbidden: User "viewer" cannot list resource "pods"' })) },
    });
    const after = exchange({ id: 9, origin: "replay", replayOf: 7, timing: { totalMs: 4 } });
    const c = compare(before, ["forbidden"], after, []);
    expect(c).toMatchObject({ id: 7, succeeds: true, chainChanged: false, flagsGone: ["forbidden"], flagsAppeared: [] });
    expect(c.before).toMatchObject({ status: 403, latencyMs: 15.3 });
    expect(c.after).toMatchObject({ id: 9, status: 200, latencyMs: 4 });
    expect(c.bodyDiff).toBe('Status Forbidden (pods is forbidden: User "viewer" cannot list resource "pods") → PodList (1 item)');
  });

  it("notices a changed certificate chain and an answer that never came", () => {
    const before = exchange({ id: 3 });
    const renewed = exchange({ id: 4, tls: { chain: [{ ...before.tls!.chain[0], sha256: "f".repeat(64) }] } });
    expect(compare(before, [], renewed, []).chainChanged).toBe(true);
    const none = compare(before, [], null, [], { status: null, error: "socket hang up", ms: 3 });
    expect(none).toMatchObject({ succeeds: false, chainChanged: null, after: { id: null, error: "socket hang up" } });
  });
});
