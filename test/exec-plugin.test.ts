// Exec credential plugins through kubewire run as kubectl runs them (KUBERNETES_EXEC_INFO, one
// run per credential lifetime, client certificates), back off after a failure, and nothing they
// print or take as arguments reaches a record, the terminal or `flags`; --listen names are resolved.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { checkListenHost } from "../src/session/prepare.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
const API = "client.authentication.k8s.io/v1";

/** A plugin script: counts its runs in `<name>.runs`, keeps KUBERNETES_EXEC_INFO in `<name>.info`, then runs `body`. */
function plugin(world: World, name: string, body: string): string {
  const file = join(world.dir, `${name}.sh`);
  const base = join(world.dir, name);
  writeFileSync(file, `#!/bin/sh\necho run >> '${base}.runs'\nprintf '%s' "$KUBERNETES_EXEC_INFO" > '${base}.info'\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const runs = (world: World, name: string) => (existsSync(join(world.dir, `${name}.runs`)) ? readFileSync(join(world.dir, `${name}.runs`), "utf8").trim().split("\n").length : 0);

/** A copy of the demo kubeconfig whose context `name` (current) uses `exec` on the demo cluster. */
function withPlugin(world: World, name: string, exec: Record<string, unknown>): string {
  const config = parse(readFileSync(world.kubeconfig, "utf8"));
  const demo = config.clusters.find((c: { name: string }) => c.name === "demo");
  demo.cluster.extensions = [{ name: "client.authentication.k8s.io/exec", extension: { audience: "demo" } }];
  config.users.push({ name, user: { exec: { apiVersion: API, interactiveMode: "Never", ...exec } } });
  config.contexts.push({ name, context: { cluster: "demo", user: name, namespace: "default" } });
  config["current-context"] = name;
  const file = join(world.dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

const credential = (status: Record<string, unknown>) => `cat <<'EOF'\n${JSON.stringify({ apiVersion: API, kind: "ExecCredential", status })}\nEOF`;

/** Every byte kubewire wrote for a session's database (main, -wal, -shm, spill), as text. */
function dbBytes(db: string): string {
  const dir = join(db, "..");
  const base = db.split("/").at(-1)!;
  return readdirSync(dir)
    .filter((f) => f.startsWith(base))
    .map((f) => readFileSync(join(dir, f)).toString("latin1"))
    .join("\n");
}

describe.skipIf(!haveKubectl)("exec credential plugins through kubewire", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => world?.close());

  it("gives the plugin the KUBERNETES_EXEC_INFO kubectl gives it, cluster info included, and runs it once per credential lifetime", async () => {
    const expires = new Date(Date.now() + 3600_000).toISOString();
    const cmd = plugin(world, "good", credential({ token: world.cluster.users.admin.token, expirationTimestamp: expires }));
    const file = withPlugin(world, "good", { command: cmd, provideClusterInfo: true });
    const direct = await kubectl(file, ["get", "pods", "-o", "name"], { cacheDir: join(world.dir, "cache-good-direct") });
    expect(direct.code).toBe(0);
    const directInfo = JSON.parse(readFileSync(join(world.dir, "good.info"), "utf8"));
    const before = runs(world, "good");
    const s = await record({ ...world, kubeconfig: file }, "good", { db: join(world.dir, "good.db") });
    try {
      for (let i = 0; i < 2; i++) {
        const through = await kubectl(s.kubeconfigPath, ["get", "pods", "-o", "name"], { cacheDir: join(world.dir, "cache-good") });
        expect(through.stdout).toBe(direct.stdout);
      }
      expect(runs(world, "good") - before).toBe(1);
      const info = JSON.parse(readFileSync(join(world.dir, "good.info"), "utf8"));
      expect(info).toEqual(directInfo);
      expect(info.spec.cluster).toMatchObject({ server: world.cluster.url, config: { audience: "demo" } });
    } finally {
      await s.stop(100);
    }
  });

  it("runs a user's plugin with the cluster info of the cluster each request goes to, when two clusters share the user", async () => {
    const cmd = plugin(world, "shared", credential({ token: world.cluster.users.admin.token }));
    const file = withPlugin(world, "shared", { command: cmd, provideClusterInfo: true });
    const config = parse(readFileSync(file, "utf8"));
    const demo = config.clusters.find((c: { name: string }) => c.name === "demo").cluster;
    const local = demo.server.replace("127.0.0.1", "localhost");
    config.clusters.push({ name: "demo-local", cluster: { ...demo, server: local } });
    config.contexts.push({ name: "shared-local", context: { cluster: "demo-local", user: "shared", namespace: "default" } });
    writeFileSync(file, stringify(config), { mode: 0o600 });
    const info = () => JSON.parse(readFileSync(join(world.dir, "shared.info"), "utf8"));
    const s = await record({ ...world, kubeconfig: file }, "shared", { wholeKubeconfig: true, db: join(world.dir, "shared.db") });
    try {
      // the chosen context's plugin ran at start-up, for its cluster; the other cluster's pair runs it on first use, for that cluster
      const atStart = info();
      for (const [context, server, kubewireInfo] of [["shared", world.cluster.url, atStart], ["shared-local", local, null]]) {
        rmSync(join(world.dir, "shared.info"), { force: true });
        const through = await kubectl(s.kubeconfigPath, ["--context", context, "get", "pods", "-o", "name"], { cacheDir: join(world.dir, `cache-${context}`) });
        const fromKubewire = kubewireInfo ?? info();
        const direct = await kubectl(file, ["--context", context, "get", "pods", "-o", "name"], { cacheDir: join(world.dir, `cache-${context}-direct`) });
        expect(through.stdout).toBe(direct.stdout);
        expect(fromKubewire.spec.cluster.server).toBe(server);
        expect(fromKubewire).toEqual(info());
      }
    } finally {
      await s.stop(100);
    }
  });

  it("authenticates with the client certificate a plugin returns, as kubectl does", async () => {
    const { certPem, keyPem } = world.cluster.users.certUser;
    const cmd = plugin(world, "cert", credential({ clientCertificateData: certPem, clientKeyData: keyPem }));
    const file = withPlugin(world, "cert", { command: cmd });
    const s = await record({ ...world, kubeconfig: file }, "cert", { db: join(world.dir, "cert.db") });
    try {
      const through = await kubectl(s.kubeconfigPath, ["auth", "whoami"]);
      const direct = await kubectl(file, ["auth", "whoami"]);
      expect(through.stdout).toContain("cert-user");
      expect(through.stdout).toBe(direct.stdout);
      expect((await recorded(s)).every(({ row }) => row.status === 201 || row.status === 200)).toBe(true);
    } finally {
      await s.stop(100);
    }
  });

  it.each([
    ["prints something that is not JSON", "not-json", "echo 'MARK-stdout-secret is not JSON'; echo MARK-stderr-secret >&2", "its output is not a JSON ExecCredential"],
    ["exits with an error", "failing", "echo MARK-stdout-secret; echo MARK-stderr-secret >&2; exit 3", "failed: exit code 3"],
  ])("backs off after a plugin that %s, and nothing it printed or was given reaches the terminal, the record or flags", async (_what, name, body, said) => {
    const cmd = plugin(world, name, body);
    const file = withPlugin(world, name, { command: cmd, args: ["get-token", "--client-secret=MARK-argv-secret", "--token", "MARK-argv-token"] });
    const db = join(world.dir, `${name}.db`);
    const warnings: string[] = [];
    const s = await record({ ...world, kubeconfig: file }, name, { db, warn: (l) => warnings.push(l) });
    let through;
    try {
      through = await kubectl(s.kubeconfigPath, ["get", "pods"], { cacheDir: join(world.dir, `cache-${name}`) });
      expect(through.code).toBe(1);
      const stderr = through.stderr.replace(/\\+"/g, '"'); // kubectl quotes the message inside its own
      expect(stderr).toContain(`exec plugin "${name}.sh" of user "${name}"`);
      expect(stderr).toContain(said);
      expect(runs(world, name)).toBe(1); // at start; kubectl's requests and retries fall in the backoff
    } finally {
      await s.stop(100);
    }
    const flags = await kubewire(["flags", "--db", db, "--kubeconfig", file]);
    expect(flags.stdout).toContain("--client-secret=***");
    const ls = await kubewire(["ls", "--db", db]);
    const everything = [through.stdout, through.stderr, warnings.join("\n"), flags.stdout, flags.stderr, ls.stdout, dbBytes(db)].join("\n");
    expect(everything).toContain("CREDENTIALS");
    expect(everything).not.toMatch(/MARK-(stdout|stderr|argv)/);
  });
});

describe("--listen", () => {
  it("refuses a name that starts with 127. but resolves elsewhere, unless --allow-remote", async () => {
    const resolveName = async () => [{ address: "127.0.0.1" }, { address: "10.1.2.3" }];
    await expect(checkListenHost("127.0.0.1.attacker.example", false, () => undefined, resolveName)).rejects.toThrow(
      "--listen 127.0.0.1.attacker.example resolves to 10.1.2.3, which is not loopback",
    );
    const warnings: string[] = [];
    await checkListenHost("127.0.0.1.attacker.example", true, (l) => warnings.push(l), resolveName);
    expect(warnings[0]).toContain("WARNING: listening on 127.0.0.1.attacker.example");
    await checkListenHost("localhost", false, () => undefined);
  });

  it("says so when the --listen name does not resolve", async () => {
    const r = await kubewire(["start", "--kubeconfig", "/nonexistent", "--listen", "127.0.0.1.invalid:0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --listen 127\.0\.0\.1\.invalid: cannot resolve the name/);
  });
});
