// `exec`'s fast start reads a plain command line without commander: for every spelling it takes, it must
// hand exec's steps what commander would (defaults included), and leave every other spelling to commander,
// whose help and errors people know.
import { describe, expect, it } from "vitest";
import { Command } from "commander";
import { fastExecInput } from "../src/cli/exec-steps.js";
import { makeExecCommand } from "../src/cli/commands/exec.js";
import { buildProgramOf } from "../src/cli/program.js";
import { kubewire } from "./helpers/world.js";

/** What commander hands exec's action for ARGV (the words after `kubewire`). */
async function commanderInput(words: string[]): Promise<{ args: unknown[]; opts: Record<string, unknown> }> {
  let seen: { args: unknown[]; opts: Record<string, unknown> } | null = null;
  const program = buildProgramOf([
    () =>
      makeExecCommand().action((...a: unknown[]) => {
        seen = { args: a.slice(0, -2), opts: (a[a.length - 1] as Command).opts() };
      }),
  ]);
  await program.parseAsync(["node", "kubewire", ...words]);
  return seen!;
}

const argv = (words: string[]) => ["node", "kubewire", ...words];

describe("exec's fast start", () => {
  it.each([
    ["a bare command", ["exec", "--", "kubectl", "get", "pods"]],
    ["-q and a context", ["exec", "-q", "--context", "staging", "--", "kubectl", "get", "pods"]],
    ["every flag it reads, spelled with spaces", ["exec", "--quiet", "--kubeconfig", "/tmp/k", "--context", "c", "--db", "/tmp/x.db", "--state-dir", "/tmp/s", "--", "go", "run", "."]],
    ["every flag it reads, spelled with =", ["exec", "--kubeconfig=/tmp/k", "--context=c", "--db=/tmp/x.db", "--state-dir=/tmp/s", "--", "kubectl", "-n", "kube-system", "get", "pods"]],
    ["a postgres URL for --db", ["exec", "--db", "postgres://kw@localhost/kw", "--", "true"]],
    ["a command whose own flags look like kubewire's", ["exec", "--", "kubectl", "--context", "other", "-q", "--db", "x"]],
  ])("reads %s as commander does", async (_name, words) => {
    const fast = fastExecInput(argv(words));
    expect(fast).not.toBeNull();
    expect(fast).toEqual(await commanderInput(words));
  });

  it.each([
    ["no -- before the command", ["exec", "kubectl", "get", "pods"]],
    ["nothing after --", ["exec", "--"]],
    ["a flag it does not read", ["exec", "--ui", "--", "kubectl", "get", "pods"]],
    ["a fault rule", ["exec", "--fault", "verb=list,status=429", "--", "kubectl", "get", "pods"]],
    ["a flag given twice", ["exec", "--context", "a", "--context", "b", "--", "kubectl"]],
    ["a value that looks like a flag", ["exec", "--context", "-q", "--", "kubectl"]],
    ["an empty value", ["exec", "--context=", "--", "kubectl"]],
    ["a flag without its value", ["exec", "--context", "--", "kubectl"]],
    ["a value given to --quiet", ["exec", "--quiet=yes", "--", "kubectl"]],
    ["short flags run together", ["exec", "-qh", "--", "kubectl"]],
    ["a --db kubewire cannot use", ["exec", "--db", "mysql://h/db", "--", "kubectl"]],
    ["help", ["exec", "--help"]],
    ["another command", ["ls", "--", "x"]],
  ])("leaves %s to commander", (_name, words) => {
    expect(fastExecInput(argv(words))).toBeNull();
  });

  it("still says what is wrong with a --db it leaves to commander, in one line", async () => {
    const r = await kubewire(["exec", "--db", "mysql://h/db", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")[0]).toMatch(/^error: .*mysql/);
  });
});
