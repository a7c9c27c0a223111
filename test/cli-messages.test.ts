// What the CLI says to a person at the terminal: doctor shows each step as it ends, flags names the
// kubeconfig it read when a recorded context is not there, and the demo's first screen reads right.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { FAILURE_NAMESPACES } from "../src/demo/failure-namespaces.js";
import { DEMO_CONTEXTS } from "../src/demo/contexts.js";
import type { Finding } from "../src/types.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, ROOT, type World } from "./helpers/world.js";

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe.skipIf(!existsSync(KUBECTL))("what kubewire says at the terminal", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  it("prints each doctor step as it ends, before the slow ones are done", async () => {
    const child = spawn(process.execPath, [join(ROOT, "bin/kubewire.js"), "doctor", "--kubeconfig", world.kubeconfig, "--context", "demo-silent", "--timeout", "1s", "--state-dir", join(world.dir, "state"), "--db", join(world.dir, "doctor.db")], { env: { ...process.env, NO_COLOR: "1" } });
    let text = "";
    const first = await new Promise<{ chunk: string; running: boolean }>((resolve) => {
      child.stdout.once("data", (d: Buffer) => resolve({ chunk: String(d), running: child.exitCode === null }));
    });
    child.stdout.on("data", (d: Buffer) => (text += String(d)));
    const code = await new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    expect(first.running).toBe(true);
    expect(first.chunk).toMatch(/^context demo-silent\n\n✓ {2}1\. /);
    expect(first.chunk).not.toContain("4. "); // the TLS step waits for its 1 s deadline
    expect(first.chunk + text).toMatch(/\n\nstep 4 \(.*\) failed: handshake: /);
    expect(code).toBe(1);
  });

  it("names the kubeconfig it read when a recorded context is not in it", async () => {
    const db = join(world.dir, "bad-token.db");
    const s = await record(world, "demo-bad-token", { db });
    await kubectl(s.kubeconfigPath, ["get", "--raw", "/version"]);
    await s.stop(100);
    const doc = parse(readFileSync(world.kubeconfig, "utf8"));
    doc.contexts = doc.contexts.filter((c: { name: string }) => c.name === "demo-admin");
    const other = join(world.dir, "admin-only.kubeconfig");
    writeFileSync(other, stringify(doc), { mode: 0o600 });
    const r = await kubewire(["flags", "--db", db, "--kubeconfig", other, "-o", "json"]);
    const f = (JSON.parse(r.stdout) as Finding[]).find((x) => x.kind === "unauthorized")!;
    expect(f.evidence).toContain(`context "demo-bad-token" is not in the kubeconfig read (${other}), so its credential could not be checked`);
  });

  it("shows a first demo screen with whole sentences, counted nouns, each demo context and failure namespace with what it shows, and next steps that run after npm install", async () => {
    const db = join(world.dir, "demo.db");
    const r = await kubewire(["demo", "--db", db, "--state-dir", join(world.dir, "demo-state")], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    const steps = r.stdout.split("\n").filter((l) => /^ {2}[✓✗] /.test(l));
    expect(steps.length).toBeGreaterThan(5);
    expect(r.stdout).not.toContain("HTTP-Code");
    expect(r.stdout).toMatch(/list pods with a revoked token +HTTP 401: Unauthorized\n/);
    expect(r.stdout).not.toMatch(/\b1 (deployments|pods|events)\b/);
    const x509 = steps.find((l) => l.includes("certificate expired"))!;
    expect(x509).toMatch(/HTTP 502: .*x509: certificate has expired or is not yet valid( \[[^\]]*\])?$/);
    const next = r.stdout.slice(r.stdout.indexOf("\nNext")).split("\n").filter((l) => l.startsWith("  "));
    expect(next.length).toBeGreaterThan(2);
    for (const l of next) expect(l).toMatch(/^ {2}npx kubewire /);
    expect(r.stdout).toContain(`Next (this demo's recording is ${db}):`);
    // the contexts and failure namespaces a newcomer can try, each with what it shows, from the tables the cluster is built from
    for (const c of DEMO_CONTEXTS) expect(r.stdout).toMatch(new RegExp(`^ {2}${c.name} +${escapeRe(c.shows)}$`, "m"));
    for (const f of FAILURE_NAMESPACES) expect(r.stdout).toMatch(new RegExp(`^ {2}${f.namespace} +${escapeRe(f.shows)}$`, "m"));
  }, 120_000);
});
