// The house rules that the compiler does not check (../shared/STYLE.md): imports run one way (nothing
// outside src/cli imports from it) and no module imports itself round a cycle, type-only imports included.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./helpers/world.js";

const SRC = join(ROOT, "src");

/** Every TypeScript file under src, and the src files each one imports (static, type-only and dynamic). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => join(SRC, f));
  const known = new Set(files);
  const spec = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = [...readFileSync(file, "utf8").matchAll(spec)].map((m) => resolve(dirname(file), (m[1] ?? m[2]).replace(/\.js$/, ".ts")));
    graph.set(file, [...new Set(deps)].filter((d) => known.has(d)));
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === "open") found.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

const name = (f: string) => relative(ROOT, f);

describe("the house's import rules", () => {
  const graph = importGraph();

  it("reads the whole source tree, the CLI and the proxy included", () => {
    expect(graph.has(join(SRC, "cli/main.ts"))).toBe(true);
    expect(graph.get(join(SRC, "proxy/server.ts"))).toContain(join(SRC, "proxy/forward.ts"));
  });

  it("has no file outside src/cli that imports from src/cli", () => {
    const cli = join(SRC, "cli") + "/";
    const backwards = [...graph].flatMap(([file, deps]) => (file.startsWith(cli) ? [] : deps.filter((d) => d.startsWith(cli)).map((d) => `${name(file)} imports ${name(d)}`)));
    expect(backwards).toEqual([]);
  });

  it("has no import cycle, type-only imports included", () => {
    expect(cycles(graph).map((c) => c.map(name).join(" -> "))).toEqual([]);
  });

  it("finds a cycle when there is one (the check can fail)", () => {
    const a = join(SRC, "a.ts");
    const b = join(SRC, "cli/b.ts");
    expect(cycles(new Map([[a, [b]], [b, [a]]])).map((c) => c.map(name))).toEqual([["src/a.ts", "src/cli/b.ts", "src/a.ts"]]);
  });
});
