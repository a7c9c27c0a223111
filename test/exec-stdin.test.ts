// `echo x | kubectl exec -i`: kubectl's stdin and the command's end race each other on the upgraded
// connection. Through kubewire every run must end as it does direct: the output delivered, exit 0.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, KUBECTL, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

/** `printf INPUT | kubectl ARGS`, as a shell pipe does it: the input is written and closed at once. */
function piped(kubeconfig: string, input: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(KUBECTL, ["--kubeconfig", kubeconfig, "--cache-dir", `${kubeconfig}.cache`, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.on("error", () => {}); // kubectl may have finished before reading its stdin
    child.stdin.end(input);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** n runs, four at a time, results in order. */
async function inFours<T>(n: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += 4) out.push(...(await Promise.all([0, 1, 2, 3].filter((k) => i + k < n).map((k) => one(i + k)))));
  return out;
}

describe.skipIf(!haveKubectl)("kubectl exec -i through kubewire", () => {
  let world: World;
  let session: RecordingSession;

  beforeAll(async () => {
    world = await demoWorld();
    session = await record(world, "demo-admin");
  });
  afterAll(async () => {
    await session?.stop(100);
    await world?.close();
  });

  it("runs `echo x | kubectl exec -i POD -- cat` 20 of 20 times with the output delivered", async () => {
    const runs = await inFours(20, (i) => piped(session.kubeconfigPath, `line-${i}\n`, ["exec", "-i", "web-1", "--", "cat"]));
    expect(runs).toEqual(runs.map((_, i) => ({ code: 0, stdout: `line-${i}\n`, stderr: "" })));
  });

  it("runs `echo x | kubectl exec -i POD -- echo hi` 20 of 20 times, though the command ends before reading stdin", async () => {
    const direct = await piped(world.kubeconfig, "ignored\n", ["--context", "demo-admin", "exec", "-i", "web-1", "--", "echo", "hi"]);
    expect(direct.code).toBe(0);
    const runs = await inFours(20, () => piped(session.kubeconfigPath, "ignored\n", ["exec", "-i", "web-1", "--", "echo", "hi"]));
    expect(runs).toEqual(runs.map(() => ({ code: 0, stdout: direct.stdout, stderr: direct.stderr })));
    const execs = await eventually(async () => {
      const rows = (await recorded(session)).filter(({ row }) => row.subresource === "exec");
      return rows.length >= 40 ? rows : undefined;
    });
    expect(execs.filter(({ ex }) => ex.error !== null).map(({ ex }) => ex.error)).toEqual([]);
  });
});
