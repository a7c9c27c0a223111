// Adding a command, a rule or a check is one file plus one line: a file that is not
// listed in its folder's index.ts fails here.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./helpers/world.js";

const folders = ["src/cli/commands", "src/analyze", "src/doctor"];

describe.each(folders)("%s/index.ts", (folder) => {
  it("lists every file of the folder", () => {
    const dir = join(ROOT, folder);
    const index = readFileSync(join(dir, "index.ts"), "utf8");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && f !== "index.ts"); // helpers live in lib/
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(index, `${f} is not listed in ${folder}/index.ts`).toContain(`"./${f.replace(/\.ts$/, ".js")}"`);
  });
});

describe("every source file", () => {
  it("opens with a comment saying what it owns", () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".ts") ? [join(d, e.name)] : []));
    const missing = walk(join(ROOT, "src")).filter((f) => !readFileSync(f, "utf8").startsWith("//"));
    expect(missing).toEqual([]);
  });

  it("is named in kebab-case", () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(join(ROOT, "src")).filter((n) => !/^[a-z0-9]+(-[a-z0-9]+)*\.ts$/.test(n))).toEqual([]);
  });
});

