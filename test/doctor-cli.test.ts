// `kubewire doctor` end to end: the built CLI against the simulated cluster, one broken
// kubeconfig or failure listener per test, asserting the step that catches it, the fix and the exit code.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { Store } from "../src/store/store.js";
import { loadLocalCa } from "../src/tls/local-ca.js";
import { ensureStateDir } from "../src/tls/state-dir.js";
import { demoWorld, kubewire, type World } from "./helpers/world.js";

interface Check { name: string; status: string; detail: string; fix?: string }
interface StepJson { step: number; name: string; status: string; checks: Check[] }
interface ReportJson { ok: boolean; context: string | null; steps: StepJson[] }

let world: World;
let n = 0;

beforeAll(async () => {
  world = await demoWorld();
  // a kubewire user already has a state directory with its local CA: make it once, before the runs
  loadLocalCa(ensureStateDir(join(world.dir, "state")));
});
afterAll(async () => {
  await world?.close();
});

async function doctor(args: string[]): Promise<{ code: number; report: ReportJson; stderr: string }> {
  const db = join(world.dir, `doctor-${++n}.db`);
  const r = await kubewire(["doctor", "--state-dir", join(world.dir, "state"), "--db", db, "--timeout", "1s", "-o", "json", ...args]);
  let report: ReportJson;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

function step(r: ReportJson, number: number): StepJson {
  const s = r.steps.find((x) => x.step === number);
  if (!s) throw new Error(`no step ${number} in ${JSON.stringify(r)}`);
  return s;
}

function failing(r: ReportJson, number: number): Check {
  const c = step(r, number).checks.find((x) => x.status === "fail");
  if (!c) throw new Error(`step ${number} has no failing check: ${JSON.stringify(step(r, number))}`);
  return c;
}

/** The first step that failed, and that every later one was skipped. */
function failsAt(r: ReportJson, number: number, skipsLater = true): void {
  expect(r.ok).toBe(false);
  expect(r.steps.filter((s) => s.status === "fail").map((s) => s.step)[0]).toBe(number);
  for (const s of r.steps.filter((x) => x.step < number)) expect(s.status, `step ${s.step}`).not.toBe("fail");
  if (skipsLater) for (const s of r.steps.filter((x) => x.step > number && x.step <= 7)) expect(s.status, `step ${s.step}`).toBe("skip");
}

/** A copy of the demo kubeconfig, changed by `edit`, written to the test folder. */
function brokenKubeconfig(name: string, edit: (doc: any) => void): string {
  const doc = parse(readFileSync(world.kubeconfig, "utf8"));
  edit(doc);
  const file = join(world.dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(doc), { mode: 0o600 });
  return file;
}

const named = (list: any[], name: string) => list.find((e) => e.name === name);

/** One broken setup each: the first failing step, its check, what it says and the fix; later steps skipped. */
const BROKEN: Array<{ what: string; args: () => string[]; step: number; check: string; detail: string | RegExp; fix: string }> = [
  {
    what: "a dangling current-context",
    args: () => ["--kubeconfig", brokenKubeconfig("dangling", (d) => (d["current-context"] = "demo-adnim"))],
    step: 1,
    check: "current-context",
    detail: /^current-context "demo-adnim" names no context in /,
    fix: "kubectl config use-context demo-admin",
  },
  {
    what: "an unresolvable host",
    args: () => ["--kubeconfig", world.kubeconfig, "--context", "demo-dns"],
    step: 3,
    check: "dns",
    detail: "lookup no-such-host.invalid: no such host (the API server host)",
    fix: "check the host name in the kubeconfig's server",
  },
  {
    what: "a refused port",
    args: () => ["--kubeconfig", world.kubeconfig, "--context", "demo-refused"],
    step: 3,
    check: "tcp",
    detail: /^dial 127\.0\.0\.1:\d+: connection refused/,
    fix: "is the API server running, and are the host and port in the kubeconfig's server right?",
  },
  {
    what: "a certificate for other names",
    args: () => ["--kubeconfig", world.kubeconfig, "--context", "demo-wrong-san"],
    step: 4,
    check: "names",
    detail: "x509: certificate is valid for 10.96.0.1, not 127.0.0.1",
    fix: "tls-server-name",
  },
  {
    what: "a server certificate from an unknown CA",
    args: () => ["--kubeconfig", world.kubeconfig, "--context", "demo-unknown-ca"],
    step: 4,
    check: "verification",
    detail: /^x509: certificate signed by unknown authority; leaf issuer CN=other-ca/,
    fix: "certificate-authority(-data)",
  },
];

describe("kubewire doctor against the simulated cluster", () => {
  // How long it takes is measured in scripts/bench-doctor.mjs (BENCHMARKS.md), not timed here.
  it("passes all seven steps for a sound kubeconfig and records the run", async () => {
    const db = join(world.dir, "sound.db");
    const r = await kubewire(["doctor", "--kubeconfig", world.kubeconfig, "--state-dir", join(world.dir, "state"), "--db", db, "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const report: ReportJson = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.context).toBe("demo-admin");
    expect(report.steps.map((s) => [s.step, s.status])).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => [i, "pass"]));
    expect(step(report, 6).checks[0].detail).toContain('user "kubernetes-admin"');
    expect((report as unknown as { durationMs: number }).durationMs).toBeGreaterThan(0);
    const store = Store.open(db, { readonly: true });
    try {
      const rows = store.list({});
      const paths = rows.map((x) => x.path);
      expect(paths).toEqual(expect.arrayContaining(["/livez", "/readyz", "/version", "/apis/authentication.k8s.io/v1/selfsubjectreviews", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]));
      const saved = JSON.parse(store.meta("doctor:last") ?? "null");
      expect(saved.ok).toBe(true);
      expect(saved.steps).toHaveLength(7);
    } finally {
      store.close();
    }
  });

  it("prints one block per step and a closing line, never the token", async () => {
    const r = await kubewire(["doctor", "--kubeconfig", world.kubeconfig, "--state-dir", join(world.dir, "state"), "--db", join(world.dir, "table.db")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✓ {2}1\. kubeconfig structure$/m);
    expect(r.stdout).toMatch(/^✓ {2}7\. authorization$/m);
    expect(r.stdout).toMatch(/all 7 steps passed in \d+\.\ds/);
    expect(r.stdout).not.toContain(world.cluster.users.admin.token!);
  });

  it("catches malformed YAML at step 1 with the file and line", async () => {
    const file = join(world.dir, "malformed.kubeconfig");
    writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster:\n    server: https://x\n   bad: [1, 2\n");
    const { code, report } = await doctor(["--kubeconfig", file]);
    expect(code).toBe(1);
    failsAt(report, 1);
    const c = failing(report, 1);
    expect(c.name).toBe("yaml");
    expect(c.detail).toMatch(new RegExp(`${file.replace(/[.]/g, "\\.")}:\\d+: invalid YAML`));
    expect(c.fix).toContain("fix the YAML at that line");
  });

  it("catches a misspelt key at step 1 with a did-you-mean", async () => {
    const file = brokenKubeconfig("misspelt", (d) => {
      const c = named(d.clusters, "demo").cluster;
      c["certificate-authority-date"] = c["certificate-authority-data"];
      delete c["certificate-authority-data"];
    });
    const { report } = await doctor(["--kubeconfig", file]);
    const c = failing(report, 1);
    expect(c.name).toBe("keys");
    expect(c.detail).toMatch(/misspelt\.kubeconfig:\d+: cluster "demo": unknown key "certificate-authority-date"/);
    expect(c.fix).toBe('did you mean "certificate-authority-data"? rename the key');
  });

  it("catches a certificate-authority-data that is not base64 at step 1", async () => {
    const file = brokenKubeconfig("bad-base64", (d) => (named(d.clusters, "demo").cluster["certificate-authority-data"] = "LS0tLS1CRUdJTi!!not*base64"));
    const { code, report } = await doctor(["--kubeconfig", file]);
    expect(code).toBe(1);
    const c = failing(report, 1);
    expect(c).toMatchObject({ name: "certificate-authority-data", detail: 'cluster "demo": certificate-authority-data is not valid base64' });
    expect(c.fix).toContain("base64 -w0");
    expect(step(report, 4).status).toBe("skip");
  });

  it("catches a client certificate file that does not exist at step 1", async () => {
    const file = brokenKubeconfig("missing-cert", (d) => {
      d["current-context"] = "demo-cert";
      const u = named(d.users, "demo-cert").user;
      delete u["client-certificate-data"];
      u["client-certificate"] = "certs/client.crt";
    });
    const { report } = await doctor(["--kubeconfig", file]);
    failsAt(report, 1, false);
    const c = failing(report, 1);
    expect(c.name).toBe("client-certificate");
    expect(c.detail).toBe(`user "demo-cert": client-certificate ${join(world.dir, "certs/client.crt")} does not exist`);
    expect(c.fix).toContain("relative paths count from the kubeconfig's folder");
    expect(step(report, 4).checks[0].detail).toBe("skipped: step 1 (kubeconfig structure) failed");
  });

  it("catches a client key that does not match its certificate at step 1", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const file = brokenKubeconfig("key-mismatch", (d) => {
      d["current-context"] = "demo-cert";
      named(d.users, "demo-cert").user["client-key-data"] = Buffer.from(other).toString("base64");
    });
    const { report } = await doctor(["--kubeconfig", file]);
    const c = failing(report, 1);
    expect(c.name).toBe("client key");
    expect(c.detail).toContain("does not match the client certificate");
    expect(report.steps.filter((s) => s.step >= 4).every((s) => s.status === "skip")).toBe(true);
  });


  it.each(BROKEN.map((b) => [b.what, b.step, b] as const))("catches %s at step %i and says how to fix it", async (_what, number, b) => {
    const { code, report } = await doctor(b.args());
    expect(code).toBe(1);
    failsAt(report, number);
    const c = failing(report, number);
    expect(c.name).toBe(b.check);
    if (typeof b.detail === "string") expect(c.detail).toBe(b.detail);
    else expect(c.detail).toMatch(b.detail);
    expect(c.fix).toContain(b.fix);
  });

  it("catches a server that accepts TCP but never speaks TLS at step 4", async () => {
    // a process that hung on the silent port would be killed by the harness and print no report
    const { report } = await doctor(["--kubeconfig", world.kubeconfig, "--context", "demo-silent"]);
    failsAt(report, 4);
    const c = failing(report, 4);
    expect(c.name).toBe("handshake");
    expect(c.detail).toMatch(/but no TLS answer within 1000 ms: the port does not speak TLS/);
    expect(c.fix).toContain("check the port");
  });

  it("catches an expired server certificate at step 4 and tells it from clock skew", async () => {
    const { report } = await doctor(["--kubeconfig", world.kubeconfig, "--context", "demo-expired-cert"]);
    failsAt(report, 4);
    const c = failing(report, 4);
    expect(c.name).toBe("validity");
    expect(c.detail).toMatch(/^x509: certificate has expired or is not yet valid: current time .* is after /);
    expect(c.fix).toContain("renew the API server certificate");
    expect(step(report, 4).checks.find((x) => x.name === "clock")?.status).toBe("pass");
  });

  it("catches a rejected token at step 6 and skips the permission checks", async () => {
    const { code, report } = await doctor(["--kubeconfig", world.kubeconfig, "--context", "demo-bad-token"]);
    expect(code).toBe(1);
    failsAt(report, 6);
    expect(failing(report, 6).detail).toBe("401 Unauthorized: the server rejected the token: it is unknown, revoked or for another cluster");
    expect(step(report, 7).checks[0].detail).toBe("skipped: step 6 (authentication) failed");
  });

  it("catches an expired JWT at step 2 and explains the 401 at step 6", async () => {
    const { report, stderr } = await doctor(["--kubeconfig", world.kubeconfig, "--context", "demo-expired-jwt"]);
    const c = failing(report, 2);
    expect(c.name).toBe("token");
    expect(c.detail).toMatch(/^token: a JWT \(iss=https:\/\/kubernetes\.default\.svc\.cluster\.local, sub=system:serviceaccount:default:builder\) that expired at .* \(\d+m ago\)$/);
    expect(c.fix).toBe("get a new token: kubectl create token builder -n default");
    expect(failing(report, 6).detail).toMatch(/^401 Unauthorized: the credentials are expired: the JWT expired at /);
    expect(JSON.stringify(report) + stderr).not.toContain(world.cluster.users.expiredJwt.token!);
  });

  it("catches a user denied list pods at step 7 with the Role and RoleBinding that would allow it", async () => {
    const { code, report } = await doctor(["--kubeconfig", world.kubeconfig, "--context", "demo-viewer", "--namespace", "kube-system", "--can", "list", "pods"]);
    expect(code).toBe(1);
    failsAt(report, 7);
    const c = failing(report, 7);
    expect(c.name).toBe("can list pods in kube-system");
    expect(c.detail).toBe('no: User "viewer" cannot list resource "pods" in API group "" in the namespace "kube-system"');
    expect(c.fix).toBe("ask an admin to run: kubectl create role list-pods --verb=list --resource=pods -n kube-system && kubectl create rolebinding list-pods --role=list-pods --user=viewer -n kube-system");
    // the default checks warn rather than fail
    expect(step(report, 7).checks.find((x) => x.name === "can create deployments.apps in kube-system")?.status).toBe("warn");
  });

  it("exits 2 with one error line on bad usage", async () => {
    const r = await kubewire(["doctor", "--kubeconfig", world.kubeconfig, "--can", "list"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --can takes VERB RESOURCE pairs/);
    const o = await kubewire(["doctor", "-o", "wide"]);
    expect(o.code).toBe(2);
    expect(o.stderr).toContain("error: -o wide is not supported here; choose one of: table, json, yaml");
  });
});
