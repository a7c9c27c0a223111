// Each rule on its recorded fixture: the exchanges of one failure in, the findings out (ids and
// times pinned), compared with test/fixtures/rules/<kind>.expected.json. UPDATE_FIXTURES=1 rewrites them
// (review the diff): a missing expectation fails rather than being written from the code under test.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rules } from "../src/analyze/index.js";
import { analyze, flagsOf } from "../src/analyze/lib/engine.js";
import type { AnalyzeContext } from "../src/analyze/lib/rule.js";
import { CASES, NOW } from "./fixtures/rules/cases.js";
import { exchange } from "./fixtures/exchange.js";
import { canI, grantsFor, grantYaml, parseDenial } from "../src/analyze/lib/rbac.js";

const DIR = join(import.meta.dirname, "fixtures/rules");
const ctxOf = (c: (typeof CASES)[number]): AnalyzeContext => ({ now: NOW, credentials: new Map(Object.entries(c.credentials ?? {})) });

describe("the rule registry", () => {
  it("lists every rule file in src/analyze, each once, named after its kind", () => {
    const files = readdirSync(join(import.meta.dirname, "../src/analyze")).filter((f) => f.endsWith(".ts") && f !== "index.ts").map((f) => f.replace(/\.ts$/, "")).sort();
    expect(rules.map((r) => r.kind).sort()).toEqual(files);
    expect(new Set(rules.map((r) => r.kind)).size).toBe(rules.length);
  });

  it("gives every rule a one-line help and a module header naming its symptom", () => {
    for (const r of rules) {
      expect(r.help).not.toContain("\n");
      const src = readFileSync(join(import.meta.dirname, `../src/analyze/${r.kind}.ts`), "utf8");
      expect(src.startsWith(`// ${r.kind}: `)).toBe(true);
    }
  });

  it("has a fixture case for every rule", () => {
    expect(CASES.map((c) => c.kind).sort()).toEqual(rules.map((r) => r.kind).sort());
  });
});

describe.each(CASES.map((c) => [c.kind, c] as const))("the %s rule on its recorded fixture", (kind, c) => {
  it("finds exactly the expected findings", () => {
    const findings = analyze(c.exchanges, ctxOf(c));
    const file = join(DIR, `${kind}.expected.json`);
    if (process.env.UPDATE_FIXTURES) writeFileSync(file, `${JSON.stringify(findings, null, 2)}\n`);
    expect(existsSync(file), `${file} is missing: run with UPDATE_FIXTURES=1 and review it`).toBe(true);
    expect(findings).toEqual(JSON.parse(readFileSync(file, "utf8")));
  });

  it("raises its kind with a one-sentence message, evidence and advice", () => {
    const f = analyze(c.exchanges, ctxOf(c)).find((x) => x.kind === kind);
    expect(f).toBeDefined();
    expect(f!.message).toMatch(/^[A-Z0-9].*\.$/);
    expect(f!.message).not.toContain("\n");
    expect(f!.advice.length).toBeGreaterThan(0);
    expect(f!.requestIds.length).toBeGreaterThan(0);
  });
});

describe("per-exchange flags", () => {
  it("leaves an ordinary successful list unflagged", () => {
    expect(flagsOf(exchange())).toEqual([]);
  });

  it("flags a 403 forbidden and a kubewire 502 for an expired certificate x509-expired, not server-error", () => {
    const forbidden = CASES.find((c) => c.kind === "forbidden")!.exchanges[0];
    const expired = CASES.find((c) => c.kind === "x509-expired")!.exchanges[0];
    expect(flagsOf(forbidden)).toEqual(["forbidden"]);
    expect(flagsOf(expired)).toEqual(["x509-expired"]);
  });
});

describe("network rules when the kubeconfig's proxy-url is what failed", () => {
  const refused = CASES.find((c) => c.kind === "refused")!.exchanges[0];
  const viaProxy = { ...refused, error: { ...refused.error!, message: "proxy 127.0.0.1:3128: connect ECONNREFUSED 127.0.0.1:3128", proxy: "http://127.0.0.1:3128" } };

  it("says nothing accepts connections at the proxy and advises about proxy-url, not the API server", () => {
    const [f] = analyze([viaProxy], { now: NOW, credentials: new Map() });
    expect(f.kind).toBe("refused");
    expect(f.message).toBe('1 request failed: nothing accepts connections at the proxy http://127.0.0.1:3128 (proxy-url of context "kind-dev").');
    expect(f.evidence).toEqual(['context "kind-dev", server https://127.0.0.1:6443 through the proxy http://127.0.0.1:3128: ECONNREFUSED: proxy 127.0.0.1:3128: connect ECONNREFUSED 127.0.0.1:3128']);
    expect(f.advice[0]).toBe('the API server was never tried: nothing accepts connections at the proxy http://127.0.0.1:3128, the proxy-url of the cluster of context "kind-dev"');
    expect(f.advice.join("\n")).not.toContain("is the API server running");
  });

  it("keeps the API server advice for a refusal without a proxy", () => {
    const [f] = analyze([refused], { now: NOW, credentials: new Map() });
    expect(f.advice[0]).toMatch(/^is the API server running/);
  });
});

describe("the forbidden rule's RBAC advice", () => {
  it("grants exactly the denied verb and resource in the denied namespace, with the can-i line", () => {
    const ex = CASES.find((c) => c.kind === "forbidden")!.exchanges[0];
    const d = parseDenial('pods is forbidden: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"', ex);
    expect(d).toMatchObject({ user: "viewer", verb: "list", resource: "pods", group: "", namespace: "kube-system" });
    const [g] = grantsFor([d]);
    expect(grantYaml(g)).toBe(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: viewer-list-pods
  namespace: kube-system
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: viewer-list-pods
  namespace: kube-system
subjects:
- kind: User
  apiGroup: rbac.authorization.k8s.io
  name: viewer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: viewer-list-pods`);
    expect(canI(g)).toEqual(["kubectl auth can-i list pods --namespace kube-system --as viewer"]);
  });

  it("writes a ClusterRole for a cluster-scoped denial to a service account, limited to the named object", () => {
    const ex = exchange({ info: { verb: "get", resource: "nodes", namespace: "", name: "node-1" } });
    const d = parseDenial('nodes "node-1" is forbidden: User "system:serviceaccount:ci:builder" cannot get resource "nodes" in API group "" at the cluster scope', ex);
    const [g] = grantsFor([d]);
    const yaml = grantYaml(g);
    expect(yaml).toContain("kind: ClusterRole\n");
    expect(yaml).toContain('resourceNames: ["node-1"]');
    expect(yaml).toContain("- kind: ServiceAccount\n  name: builder\n  namespace: ci");
    expect(canI(g)).toEqual(["kubectl auth can-i get nodes/node-1 --as system:serviceaccount:ci:builder"]);
  });
});
