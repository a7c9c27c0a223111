// `kubewire demo` as a person runs it in a terminal: --cluster-only serves the simulated cluster alone and
// --keep-running leaves it and kubewire up, each printing a kubeconfig that kubectl uses as printed, listing
// the demo's contexts and failure namespaces from the tables the cluster is built from, and removing the
// kubeconfig when Ctrl-C stops it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FAILURE_NAMESPACES } from "../src/demo/failure-namespaces.js";
import { DEMO_CONTEXTS } from "../src/demo/contexts.js";
import { Store } from "../src/store/store.js";
import { kubectl, KUBECTL, kubewire, ROOT } from "./helpers/world.js";

interface Running {
  child: ChildProcess;
  /** resolves with everything printed so far once `pattern` is in it; rejects if the process ends first */
  printed(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
  stderr(): string;
}

function startDemo(args: string[]): Running {
  const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "demo", ...args], { env: { ...process.env, NO_COLOR: "1" } });
  let out = "";
  let err = "";
  const waiters: Array<{ pattern: RegExp; resolve: (s: string) => void; reject: (e: Error) => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.pattern.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(out);
      }
    }
  };
  child.stdout!.on("data", (d: Buffer) => {
    out += String(d);
    check();
  });
  child.stderr!.on("data", (d: Buffer) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`kubewire demo ended (${code}) before printing ${w.pattern}:\n${out}\n${err}`));
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    stderr: () => err,
    printed: (pattern) =>
      new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve, reject });
        check();
      }),
  };
}

/** The path on the screen's `kubeconfig: PATH` line. */
function kubeconfigOf(screen: string): string {
  const m = /^kubeconfig: (\S+)$/m.exec(screen);
  expect(m, screen).not.toBeNull();
  return m![1];
}

/** Each context and failure namespace of the tables is on the screen with what it shows. */
function expectGuide(screen: string): void {
  for (const c of DEMO_CONTEXTS) expect(screen).toMatch(new RegExp(`^ {2}${c.name} +${escape(c.shows)}$`, "m"));
  for (const f of FAILURE_NAMESPACES) expect(screen).toMatch(new RegExp(`^ {2}${f.namespace} +${escape(f.shows)}$`, "m"));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe.skipIf(!existsSync(KUBECTL))("kubewire demo, left running", () => {
  let dir: string;
  const started: Running[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kubewire-demo-cli-"));
  });
  afterAll(async () => {
    for (const r of started) if (r.child.exitCode === null) r.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses --cluster-only with --keep-running or --db, in one line", async () => {
    const both = await kubewire(["demo", "--cluster-only", "--keep-running", "--state-dir", join(dir, "refused")]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error: --cluster-only runs until Ctrl-C already\n/);
    const db = await kubewire(["demo", "--cluster-only", "--db", join(dir, "x.db"), "--state-dir", join(dir, "refused")]);
    expect(db.code).toBe(2);
    expect(db.stderr).toMatch(/^error: --cluster-only records nothing, so it takes no --db\n/);
    expect(both.stderr + db.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it("--cluster-only serves the simulated cluster alone: kubectl answers through the printed kubeconfig, Ctrl-C stops it and removes the kubeconfig", async () => {
    const state = join(dir, "cluster-only");
    const demo = startDemo(["--cluster-only", "--state-dir", state]);
    started.push(demo);
    const screen = await demo.printed(/^Serving until Ctrl-C\.$/m);
    const kubeconfig = kubeconfigOf(screen);
    expect(kubeconfig).toBe(join(state, "demo-cluster.kubeconfig"));
    expectGuide(screen);
    const pods = await kubectl(kubeconfig, ["get", "pods"]);
    expect(pods.code).toBe(0);
    expect(pods.stdout).toMatch(/^web-1 +1\/1 +Running/m);
    const bad = await kubectl(kubeconfig, ["--context", "demo-bad-token", "get", "pods"]);
    expect(bad.stderr.trimEnd().split("\n").pop()).toBe("error: You must be logged in to the server (Unauthorized)");
    // the next step it prints runs as printed: one command through kubewire, recorded where flags reads
    const exec = /^ {2}npx kubewire (exec .*? -- kubectl get pods -n broken)  /m.exec(screen);
    expect(exec, screen).not.toBeNull();
    const recorded = await kubewire([...exec![1].split(" "), "--cache-dir", join(dir, "exec-cache")], { env: { KUBEWIRE_HOME: join(dir, "exec-home") } });
    expect(recorded.stderr).toContain("Internal error occurred: etcdserver: request timed out");
    const flagsCmd = /^ {2}npx kubewire (flags --db \S+)/m.exec(screen)![1];
    const flags = await kubewire(flagsCmd.split(" "));
    expect(flags.stdout).toContain("etcdserver: request timed out");
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    expect(existsSync(kubeconfig)).toBe(false);
    expect(demo.stderr()).not.toMatch(/Error|at .*\.js:\d+/);
  }, 120_000);

  it("--keep-running prints a kubeconfig of every demo context through kubewire, which kubectl uses and the recording keeps", async () => {
    const state = join(dir, "keep-running");
    const db = join(dir, "keep-running.db");
    const demo = startDemo(["--keep-running", "--state-dir", state, "--db", db]);
    started.push(demo);
    const screen = await demo.printed(/^Running until Ctrl-C\.$/m);
    const kubeconfig = kubeconfigOf(screen);
    expect(kubeconfig).toBe(join(state, "demo.kubeconfig"));
    expect(screen).toContain(`export KUBECONFIG=${kubeconfig}\n`);
    expectGuide(screen);
    const pods = await kubectl(kubeconfig, ["get", "pods"]);
    expect(pods.code).toBe(0);
    expect(pods.stdout).toMatch(/^web-1 +1\/1 +Running/m);
    const expired = await kubectl(kubeconfig, ["--context", "demo-expired-cert", "get", "pods"]);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toContain("kubewire: cannot reach the API server");
    expect(expired.stderr).toContain("x509: certificate has expired or is not yet valid");
    demo.child.kill("SIGINT");
    expect(await demo.exited).toBe(0);
    expect(existsSync(kubeconfig)).toBe(false);
    expect(existsSync(join(state, "demo-cluster.kubeconfig"))).toBe(false);
    const store = Store.open(db, { readonly: true });
    try {
      const byKubectl = store.list({}).filter((r) => r.userAgent.startsWith("kubectl/"));
      expect(byKubectl.some((r) => r.context === "demo-admin" && r.resource === "pods" && r.status === 200)).toBe(true);
      expect(byKubectl.some((r) => r.context === "demo-expired-cert" && r.error?.code === "CERT_HAS_EXPIRED")).toBe(true);
    } finally {
      store.close();
    }
  }, 180_000);
});
