// Nothing leaked: after a session that handles tokens, client keys, passwords and Secrets,
// none of them is in the database file, the spill file or any command's output.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { ensureStateDir } from "../src/tls/state-dir.js";
import { join } from "node:path";
import { parse } from "yaml";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type World } from "./helpers/world.js";
import { readCommands } from "./helpers/commands.js";

const haveKubectl = existsSync(KUBECTL);

describe.skipIf(!haveKubectl)("credentials and secret values never reach the recording or the terminal", () => {
  let world: World;
  const outputs: string[] = [];
  const kubectlOutputs: string[] = [];
  let db = "";
  let proxyToken = "";
  const secretValue = "s3cr3t-Pa55w0rd-4-kubewire";
  const secretB64 = Buffer.from(secretValue).toString("base64");

  beforeAll(async () => {
    world = await demoWorld();
    for (const context of ["demo-admin", "demo-cert", "demo-basic"]) {
      const s = await record(world, context, { db: join(world.dir, "all.db") });
      db = s.dbPath;
      proxyToken = parse(readFileSync(s.kubeconfigPath, "utf8")).users[0].user.token;
      const k = (args: string[]) => kubectl(s.kubeconfigPath, args).then((r) => kubectlOutputs.push(r.stdout, r.stderr));
      await k(["create", "secret", "generic", `pw-${context}`, `--from-literal=password=${secretValue}`, "--validate=false"]);
      await k(["get", "secret", `pw-${context}`, "-o", "yaml"]);
      await k(["get", "secrets"]);
      const kc = new KubeConfig();
      kc.loadFromFile(s.kubeconfigPath);
      await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: "default" });
      await s.stop(100);
    }
    const ls = await kubewire(["ls", "--db", db, "-o", "json"]);
    outputs.push(ls.stdout, ls.stderr, (await kubewire(["ls", "--db", db, "-o", "wide"])).stdout);
    for (const row of JSON.parse(ls.stdout).filter((r: { resource: string; verb: string }) => r.resource === "secrets" && r.verb !== "list")) {
      for (const o of ["page", "json", "yaml"]) outputs.push((await kubewire(["show", String(row.id), "--db", db, "-o", o])).stdout);
    }
    for (const cmd of readCommands()) {
      if (["flags", "stats"].includes(cmd)) outputs.push((await kubewire([cmd, "--db", db, "-o", "json"])).stdout);
    }
  }, 120_000);
  afterAll(async () => world?.close());

  function secrets(): Array<[string, string]> {
    const u = world.cluster.users;
    return [
      ["the admin token", u.admin.token!],
      ["the proxy token", proxyToken],
      ["the basic-auth password", u.basicUser.password!],
      ["the basic-auth header", Buffer.from(`${u.basicUser.username}:${u.basicUser.password}`).toString("base64")],
      ["the client key", u.certUser.keyPem!.split("\n")[1]],
      ["the Secret's value", secretValue],
      ["the Secret's value in base64", secretB64],
    ];
  }

  it("keeps every credential and secret value out of the database files", () => {
    const files = readdirSync(world.dir).filter((f) => f.startsWith("all.db")).map((f) => join(world.dir, f));
    expect(files.length).toBeGreaterThan(0);
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    // the Secrets' exchanges are in there (else this test could not fail): only their values are not
    expect(bytes.includes(Buffer.from("pw-demo-admin"))).toBe(true);
    for (const [what, value] of secrets()) expect(bytes.includes(Buffer.from(value)), what).toBe(false);
  });

  it("still hands the client its own Secret unchanged", () => {
    expect(kubectlOutputs.join("\n")).toContain(`password: ${secretB64}`);
  });

  it("keeps them out of everything kubewire printed", () => {
    const all = outputs.join("\n");
    expect(all).toContain("[redacted]");
    for (const [what, value] of secrets()) expect(all.includes(value), what).toBe(false);
  });

  it("creates the database, the CA key and the generated kubeconfig readable by the owner only", () => {
    expect(statSync(join(world.dir, "all.db")).mode & 0o777).toBe(0o600);
    expect(statSync(join(world.dir, "state")).mode & 0o777).toBe(0o700);
    expect(statSync(join(world.dir, "state", "ca.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(world.dir, "demo-admin.proxy.kubeconfig")).mode & 0o777).toBe(0o600);
  });
});

describe("the state directory", () => {
  it("is created 0700 and refused when others may write to it", () => {
    const base = mkdtempSync(join(tmpdir(), "kubewire-state-"));
    try {
      const fresh = join(base, "fresh");
      ensureStateDir(fresh);
      expect(statSync(fresh).mode & 0o777).toBe(0o700);
      const open = join(base, "open");
      mkdirSync(open);
      chmodSync(open, 0o777);
      expect(() => ensureStateDir(open)).toThrow(/state directory .* is writable by others \(mode 777\)/);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
