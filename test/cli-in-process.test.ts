// Commands run in-process through complete, validate and run, with out/err captured, over a recording
// kubectl made through a recording session: each prints what the spawned CLI prints for the same words.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Command } from "commander";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { demoWorld, kubectl, kubewire, record, ROOT, type World } from "./helpers/world.js";
import { runSteps, type CommandSteps, type RawInput, type Sink } from "../src/cli/command-shape.js";
import { UserError } from "../src/errors.js";
import { lsSteps, makeLsCommand } from "../src/cli/commands/ls.js";
import { makeShowCommand, showSteps } from "../src/cli/commands/show.js";
import { flagsSteps, makeFlagsCommand } from "../src/cli/commands/flags.js";
import { makeStatsCommand, statsSteps } from "../src/cli/commands/stats.js";

let world: World;
let db: string;
let forbiddenId: number;
const ENV = { NO_COLOR: "1", COLUMNS: "" };

beforeAll(async () => {
  world = await demoWorld();
  const session = await record(world, "demo-viewer");
  db = session.dbPath;
  try {
    const get = await kubectl(session.kubeconfigPath, ["get", "pods", "-n", "kube-system"]);
    expect(get.stderr).toContain("Forbidden");
    await kubectl(session.kubeconfigPath, ["get", "pods", "-n", "default"]);
  } finally {
    await session.stop();
  }
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** What commander parses from these words, as the real command would hand it to its action. */
async function parsed(make: () => Command, words: string[]): Promise<RawInput> {
  const cmd = make().exitOverride();
  let raw: RawInput | undefined;
  cmd.action((...a: any[]) => {
    raw = { args: a.slice(0, -2), opts: (a[a.length - 1] as Command).opts() };
  });
  await cmd.parseAsync(words, { from: "user" });
  return raw!;
}

class Buffer implements Sink {
  text = "";
  isTTY = false;
  write(s: string) {
    this.text += s;
  }
}

/** ls tables show each row's AGE, which moves on between two runs: the rows without it, cell by cell. */
function ageless(text: string): string {
  if (!text.startsWith("ID ")) return text;
  return text.split("\n").map((l) => l.split(/ {2,}/).filter((_, i) => i !== 1).join("|")).join("\n");
}

async function inProcess<O>(make: () => Command, steps: CommandSteps<O>, words: string[]) {
  const out = new Buffer();
  const err = new Buffer();
  const code = await runSteps(steps, await parsed(make, words), { out, err }, { ...process.env, ...ENV });
  return { code: code ?? 0, stdout: out.text, stderr: err.text };
}

describe("commands run in-process", () => {
  it.each([
    ["ls", makeLsCommand, lsSteps, () => ["--db", db]],
    ["ls -o json of the 4xx", makeLsCommand, lsSteps, () => ["--db", db, "--status", "4xx", "-o", "json"]],
    ["ls -o wide", makeLsCommand, lsSteps, () => ["--db", db, "-o", "wide"]],
    ["stats", makeStatsCommand, statsSteps, () => ["--db", db]],
    ["stats -o yaml", makeStatsCommand, statsSteps, () => ["--db", db, "-o", "yaml"]],
    ["flags", makeFlagsCommand, flagsSteps, () => ["--db", db]],
    ["flags -o name", makeFlagsCommand, flagsSteps, () => ["--db", db, "-o", "name"]],
  ] as const)("prints for %s what the spawned CLI prints", async (name, make, steps, words) => {
    const here = await inProcess(make as () => Command, steps as CommandSteps<unknown>, words());
    const spawned = await kubewire([name.split(" ")[0], ...words()], { env: ENV });
    expect(here.stdout.length).toBeGreaterThan(0);
    expect(ageless(here.stdout)).toBe(ageless(spawned.stdout));
    expect(here.code).toBe(spawned.code);
  });

  it("prints the forbidden exchange's page for show ID as the spawned CLI does, and flags exits 1 over it", async () => {
    const ls = await inProcess(makeLsCommand, lsSteps, ["--db", db, "--status", "403", "-o", "name"]);
    forbiddenId = Number(ls.stdout.trim().split("\n")[0].replace("exchange/", ""));
    expect(forbiddenId).toBeGreaterThan(0);
    const here = await inProcess(makeShowCommand, showSteps, [String(forbiddenId), "--db", db]);
    const spawned = await kubewire(["show", String(forbiddenId), "--db", db], { env: ENV });
    expect(here.stdout).toContain("forbidden");
    expect(here.stdout).toBe(spawned.stdout);
    const flags = await inProcess(makeFlagsCommand, flagsSteps, ["--db", db, "--flag", "forbidden"]);
    expect(flags.code).toBe(1);
  });

  it("refuses a bad --sort-by in validate, before the recording is opened, with the spawned CLI's message", async () => {
    const words = ["--db", join(world.dir, "no-such-folder", "x.db"), "--sort-by", ".foo["];
    const o = statsSteps.complete(await parsed(makeStatsCommand, words), process.env);
    expect(() => statsSteps.validate(o)).toThrow(/^--sort-by: cannot parse "\.foo\[": unterminated array$/);
    const here = await inProcess(makeStatsCommand, statsSteps, words).catch((e: Error) => e);
    expect(here).toBeInstanceOf(UserError);
    const spawned = await kubewire(["stats", ...words], { env: ENV });
    expect(spawned.code).toBe(2);
    expect(spawned.stdout).toBe("");
    expect(spawned.stderr).toBe(`error: ${(here as UserError).message}\n`);
  });
});

describe("the command shape", () => {
  const files = readdirSync(join(ROOT, "src/cli/commands")).filter((f) => f.endsWith(".ts") && f !== "index.ts");
  it.each(files)("%s exports its steps: complete, validate and run", async (file) => {
    const mod: Record<string, unknown> = await import(`../src/cli/commands/${file}`);
    const steps = Object.entries(mod).filter(([name, v]) => name.endsWith("Steps") && typeof v === "object" && v !== null);
    expect(steps.length).toBeGreaterThan(0);
    for (const [, v] of steps) {
      const s = v as Record<string, unknown>;
      expect([typeof s.complete, typeof s.validate, typeof s.run]).toEqual(["function", "function", "function"]);
    }
  });
});
