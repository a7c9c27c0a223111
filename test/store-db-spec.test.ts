// What a --db names: a file, a postgres:// URL (password masked wherever it is shown), or a refusal in one line.
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { connectionString, parseDbSpec, shownSpec } from "../src/store/db-spec.js";
import { defaultDbPath } from "../src/session/db-path.js";
import { kubewire } from "./helpers/world.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-spec-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("a --db value", () => {
  it.each([
    ["a postgres:// URL", "postgres://kw@db.example:5432/kw", "postgres://kw@db.example:5432/kw"],
    ["a postgresql:// URL", "postgresql://kw@127.0.0.1/kw?sslmode=require", "postgresql://kw@127.0.0.1/kw?sslmode=require"],
    ["a URL with a password, masked", "postgres://kw:hunter2@127.0.0.1:5432/kw", "postgres://kw:***@127.0.0.1:5432/kw"],
  ])("takes %s as PostgreSQL", (_, given, spec) => {
    expect(parseDbSpec(given)).toEqual({ kind: "postgres", url: spec });
    expect(defaultDbPath(dir, given)).toBe(spec);
  });

  it("keeps the password only for connecting, never in the spec that is shown", () => {
    const { url } = parseDbSpec("postgres://kw:p%40ss:w0rd@127.0.0.1:5432/kw") as { url: string };
    expect(url).not.toContain("w0rd");
    expect(connectionString(url)).toBe("postgres://kw:p%40ss%3Aw0rd@127.0.0.1:5432/kw");
    expect(connectionString("postgres://other@127.0.0.1/kw")).toBe("postgres://other@127.0.0.1/kw");
    expect(shownSpec("postgres://kw:hunter2@h/kw?password=x")).toBe("postgres://kw:***@h/kw?password=***");
  });

  it.each([
    ["mysql://kw@127.0.0.1/kw", /^\$KUBEWIRE_DB mysql:\/\/kw@127\.0\.0\.1\/kw: kubewire does not know the scheme "mysql:"/],
    ["sqlite:rec.db", /kubewire does not know the scheme "sqlite:"/],
    ["postgress://kw@h/kw", /kubewire does not know the scheme "postgress:"/],
    ["postgres:kw@h/kw", /^\$KUBEWIRE_DB postgres:kw@h\/kw is not a PostgreSQL URL$/],
    ["postgres:/h/kw", /is not a PostgreSQL URL$/],
  ])("refuses %s in one line", (given, message) => {
    expect(() => defaultDbPath(dir, undefined, { KUBEWIRE_DB: given })).toThrow(UserError);
    expect(() => defaultDbPath(dir, undefined, { KUBEWIRE_DB: given })).toThrow(message);
  });
});

describe("kubewire with a --db of an unknown scheme", () => {
  it.each([["ls"], ["flags"], ["stats"], ["export", "--jsonl", "-"]])("%s exits 2 with one line and creates nothing", async (...cmd) => {
    const out = await kubewire([...cmd, "--db", "mysql://kw:hunter2@127.0.0.1/kw"], { env: { ...process.env, KUBEWIRE_HOME: join(dir, "home") } });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^error: --db mysql:\/\/kw:\*\*\*@127\.0\.0\.1\/kw: kubewire does not know the scheme "mysql:"; it records into a SQLite file or a postgres:\/\/ URL\n/);
    expect(out.stderr).not.toContain("hunter2");
    expect(out.stderr).not.toMatch(/bug|at .*\.js/);
    expect(readdirSync(dir).filter((n) => n !== "home")).toEqual([]);
  });

  it("start refuses a postgres: typo before it creates a folder named after it", async () => {
    const out = await kubewire(["start", "--db", "postgres:kw@127.0.0.1/kw", "--state-dir", join(dir, "home")], { env: { ...process.env } });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^error: --db postgres:kw@127\.0\.0\.1\/kw is not a PostgreSQL URL\n/);
    expect(existsSync(join(process.cwd(), "postgres:kw@127.0.0.1"))).toBe(false);
  });
});

describe("a URL given to the store with its password still in it", () => {
  it("is shown masked and connects with the password", () => {
    const { url } = parseDbSpec("postgres://kw:plain-pw@127.0.0.1:5432/kw") as { url: string };
    expect(url).toBe("postgres://kw:***@127.0.0.1:5432/kw");
    expect(connectionString(url)).toBe("postgres://kw:plain-pw@127.0.0.1:5432/kw");
    // parsing the masked form again keeps the remembered password
    expect(parseDbSpec(url)).toEqual({ kind: "postgres", url });
    expect(connectionString(url)).toBe("postgres://kw:plain-pw@127.0.0.1:5432/kw");
  });
});
