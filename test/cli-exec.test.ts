// The command line as a newcomer uses it: `kubewire exec -- kubectl ...`, then `ls` and
// `show`; `start` until SIGTERM; and one clear line for every kind of bad input.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { demoWorld, eventually, kubectl, KUBECTL, kubewire, ROOT, run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

describe.skipIf(!haveKubectl)("kubewire exec, ls and show", () => {
  let world: World;
  let db: string;
  let state: string;
  beforeAll(async () => {
    world = await demoWorld({ bigListBytes: 1024 * 1024 });
    db = join(world.dir, "exec.db");
    state = join(world.dir, "state");
  });
  afterAll(async () => world?.close());

  it("runs kubectl get pods through the proxy and leaves a list row with timing and chain", async () => {
    const r = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--db", db, "--state-dir", state, "--", KUBECTL, "get", "pods", "--cache-dir", join(world.dir, "c1")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+READY\s+STATUS/);
    expect(r.stdout).toContain("web-1");
    expect(r.stderr).toMatch(/kubewire: recorded \d+ exchanges into/);
    expect(r.stderr).toMatch(/kubewire: \d+ requests, none failed/);

    const ls = await kubewire(["ls", "--db", db, "-o", "json"]);
    expect(ls.code).toBe(0);
    const rows = JSON.parse(ls.stdout);
    // every exchange is in the database when exec returns (a short run writes them as it ends), nothing left beside it
    expect(rows).toHaveLength(Number(/recorded (\d+) exchanges/.exec(r.stderr)![1]));
    expect(readdirSync(dirname(db)).filter((n) => n.startsWith("exec.db."))).toEqual([]); // no journal segment, no spill file
    const list = rows.find((x: { verb: string; resource: string }) => x.verb === "list" && x.resource === "pods");
    expect(list).toMatchObject({ method: "GET", path: "/api/v1/namespaces/default/pods", group: "", subresource: "", namespace: "default", name: "", status: 200, error: null });
    expect(typeof list.id).toBe("number");
    expect(new Date(list.time).toISOString()).toBe(list.time);
    expect(list.durationMs).toBeGreaterThan(0);

    const show = await kubewire(["show", String(list.id), "--db", db, "-o", "json"]);
    const ex = JSON.parse(show.stdout);
    expect(Object.keys(ex.timing).sort()).toEqual(["connectMs", "dnsMs", "reusedConnection", "tlsMs", "totalMs", "ttfbMs"]);
    expect(ex.tls.chain[0]).toMatchObject({ subject: expect.stringContaining("CN="), issuer: expect.stringContaining("CN="), san: expect.arrayContaining(["IP:127.0.0.1"]) });
    expect(ex.tls.chain[0].sha256).toMatch(/^[0-9a-f]{64}$/);

    const page = await kubewire(["show", String(list.id), "--db", db]);
    expect(page.stdout).toContain("GET /api/v1/namespaces/default/pods");
    expect(page.stdout).toContain("kubectl --context demo-admin get --raw '/api/v1/namespaces/default/pods");

    const table = await kubewire(["ls", "--db", db, "--resource", "pods"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+AGE\s+VERB\s+RESOURCE\s+NAMESPACE\/NAME\s+STATUS\s+LATENCY\s+FLAGS$/);
    expect(table.stdout).toMatch(/\blist\s+pods\s+default\s+200\b/);
  });

  it("makes kubectl print the kubewire explanation for an expired certificate and exits with kubectl's code", async () => {
    const expiredDb = join(world.dir, "expired.db");
    const r = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--context", "demo-expired-cert", "--db", expiredDb, "--state-dir", state, "--", KUBECTL, "get", "pods", "--cache-dir", join(world.dir, "c2")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("kubewire: cannot reach the API server");
    expect(r.stderr).toContain("x509: certificate has expired or is not yet valid");
    const rows = JSON.parse((await kubewire(["ls", "--db", expiredDb, "-o", "json"])).stdout);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0].error.code).toBe("CERT_HAS_EXPIRED");
    expect(rows[0].status).toBeNull(); // no response from the API server: kubewire answered the 502 kubectl printed
    // the verdict names the kind and the rows, and where to read more
    expect(r.stderr).toMatch(new RegExp(`kubewire: ${rows.length} of ${rows.length} requests failed: x509-expired \\(#${rows[0].id}(–${rows.at(-1).id})?\\) → npx kubewire flags --db `));
  });

  it("warns when the command sent nothing through kubewire (it used another kubeconfig)", async () => {
    const r = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--db", join(world.dir, "bypass.db"), "--state-dir", state, "--", KUBECTL, "--kubeconfig", world.kubeconfig, "get", "pods", "--cache-dir", join(world.dir, "c5")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("web-1");
    expect(r.stderr).toContain(`kubewire: WARNING: ${KUBECTL} sent no request through kubewire, so nothing was recorded.`);
  });

  it("works as the kubectl plugin `kubectl wire`", async () => {
    const bin = join(world.dir, "plugin-bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(ROOT, "bin/kubewire.js"), join(bin, "kubectl-wire"));
    const pluginDb = join(world.dir, "plugin.db");
    const r = await run(KUBECTL, ["wire", "exec", "--kubeconfig", world.kubeconfig, "--db", pluginDb, "--state-dir", state, "-q", "--", KUBECTL, "get", "ns", "--cache-dir", join(world.dir, "c3")], {
      env: { PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin` },
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^NAME\s+STATUS\s+AGE/);
    expect(JSON.parse((await kubewire(["ls", "--db", pluginDb, "-o", "json"])).stdout).some((x: { resource: string }) => x.resource === "namespaces")).toBe(true);
  });

  it("passes the command's own exit code through", async () => {
    const r = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--db", db, "--state-dir", state, "-q", "--", "sh", "-c", "exit 7"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toBe("");
  });

  it("records everything and exits 0 when start gets SIGTERM", async () => {
    const startDb = join(world.dir, "start.db");
    const kc = join(world.dir, "start.kubeconfig");
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "start", "--kubeconfig", world.kubeconfig, "--listen", "127.0.0.1:0", "--db", startDb, "--state-dir", state, "--write-kubeconfig", kc], { stdio: ["ignore", "pipe", "pipe"] });
    onTestFinished(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")));
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    for (let i = 0; i < 400 && !out.includes("listening on"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
    expect(statSync(kc).mode & 0o777).toBe(0o600);
    const r = await kubectl(kc, ["get", "ns"]);
    expect(r.stdout).toContain("kube-system");
    const status = await eventually(async () => {
      const runs = JSON.parse((await kubewire(["status", "--state-dir", state, "-o", "json"])).stdout);
      const run = runs.find((x: { pid: number }) => x.pid === child.pid);
      return run && run.stats.written > 0 ? run : undefined;
    });
    expect(status).toMatchObject({ context: "demo-admin", db: startDb, kubeconfig: kc, stats: { dropped: 0, spilled: 0 } });
    expect(status.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const exit = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    const rows = JSON.parse((await kubewire(["ls", "--db", startDb, "-o", "json"])).stdout);
    expect(rows.some((x: { resource: string; verb: string }) => x.resource === "namespaces" && x.verb === "list")).toBe(true);
    const after = JSON.parse((await kubewire(["status", "--state-dir", state, "-o", "json"])).stdout);
    expect(after.find((x: { pid: number }) => x.pid === child.pid)).toBeUndefined();
  });
});

describe("bad input gets one clear line and a non-zero exit", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => world?.close());

  const one = (stderr: string) => stderr.trim().split("\n").filter((l) => !l.startsWith("hint:"));

  it("names a kubeconfig that does not exist", async () => {
    const r = await kubewire(["start", "--kubeconfig", "/nonexistent/config"]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toEqual(["error: kubeconfig /nonexistent/config does not exist (from --kubeconfig)"]);
  });

  it("names the file and line of malformed YAML", async () => {
    const bad = join(world.dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: [unclosed\n");
    const r = await kubewire(["start", "--kubeconfig", bad]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^error: kubeconfig ${bad}:\\d+: invalid YAML`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("lists the contexts that exist when the one asked for does not", async () => {
    const r = await kubewire(["start", "--kubeconfig", world.kubeconfig, "--context", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: context "nope" \(from --context\) not found in .*; contexts: demo-admin, demo-viewer/);
  });

  it("names an unreadable client certificate file", async () => {
    const cfg = readFileSync(world.kubeconfig, "utf8").replace(/client-certificate-data: \S+/, "client-certificate: /nonexistent/client.crt");
    const file = join(world.dir, "missing-cert.yaml");
    writeFileSync(file, cfg);
    const r = await kubewire(["start", "--kubeconfig", file, "--context", "demo-cert", "--state-dir", join(world.dir, "s")]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("/nonexistent/client.crt");
  });

  it("refuses an exec whose client certificate cannot be read before the command runs", async () => {
    const cfg = readFileSync(world.kubeconfig, "utf8").replace(/client-certificate-data: \S+/, "client-certificate: /nonexistent/client.crt");
    const file = join(world.dir, "missing-cert-exec.yaml");
    writeFileSync(file, cfg);
    const mark = join(world.dir, "cmd-ran");
    const r = await kubewire(["exec", "--kubeconfig", file, "--context", "demo-cert", "--state-dir", join(world.dir, "s"), "--db", join(world.dir, "mc.db"), "--", "sh", "-c", `touch ${mark}`]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("/nonexistent/client.crt");
    expect(existsSync(mark)).toBe(false);
  });

  it("stops the command it started when the recording cannot be opened, and says why", async () => {
    const notRecording = join(world.dir, "not-a-recording.db");
    writeFileSync(notRecording, "this is not a database\n".repeat(100));
    // the command would run for five minutes: the test's timeout is what fails if kubewire left it running
    const r = await kubewire(["exec", "--kubeconfig", world.kubeconfig, "--state-dir", join(world.dir, "s"), "--db", notRecording, "--", "sleep", "300"]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toEqual([`error: ${notRecording} is not a SQLite database, so not a kubewire recording`]);
    expect(readdirSync(join(world.dir, "s")).filter((n) => n.startsWith("kubeconfig-"))).toEqual([]);
  });

  it("leaves --write-kubeconfig alone when start fails after binding its port", async () => {
    const notRecording = join(world.dir, "not-a-recording-start.db");
    writeFileSync(notRecording, "this is not a database\n".repeat(100));
    const kc = join(world.dir, "kept.kubeconfig");
    writeFileSync(kc, "the kubeconfig of a start that still runs\n");
    const r = await kubewire(["start", "--kubeconfig", world.kubeconfig, "--listen", "127.0.0.1:0", "--state-dir", join(world.dir, "s"), "--db", notRecording, "--write-kubeconfig", kc]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toEqual([`error: ${notRecording} is not a SQLite database, so not a kubewire recording`]);
    expect(readFileSync(kc, "utf8")).toBe("the kubeconfig of a start that still runs\n");
  });

  it("says when the port is in use", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await kubewire(["start", "--kubeconfig", world.kubeconfig, "--listen", `127.0.0.1:${port}`, "--state-dir", join(world.dir, "s"), "--db", join(world.dir, "p.db")]);
      expect(r.code).toBe(2);
      expect(one(r.stderr)).toEqual([`error: cannot listen on 127.0.0.1:${port}: the port is in use`]);
    } finally {
      blocker.close();
    }
  });

  it("says when the database path cannot be written", async () => {
    const ro = join(world.dir, "readonly");
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const asRoot = process.getuid?.() === 0;
    const target = asRoot ? "/proc/kubewire.db" : join(ro, "x.db");
    const r = await kubewire(["start", "--kubeconfig", world.kubeconfig, "--listen", "127.0.0.1:0", "--state-dir", join(world.dir, "s"), "--db", target]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain(target);
  });

  it("refuses a non-loopback listen address without --allow-remote", async () => {
    const r = await kubewire(["start", "--kubeconfig", world.kubeconfig, "--listen", "0.0.0.0:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --listen 0\.0\.0\.0 is not a loopback address/);
  });

  it("names the flag and the value of a malformed duration", async () => {
    const r = await kubewire(["ls", "--since", "yesterday"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"yesterday" is neither a duration');
  });

  it("says when a recording does not exist or the ID is unknown", async () => {
    const r = await kubewire(["ls", "--db", join(world.dir, "none.db")]);
    expect(r.code).toBe(2);
    expect(one(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain("none.db");
  });
});
