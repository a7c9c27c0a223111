// The state directory's mode: a loose one of ours is tightened and said, one others may write is refused.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { ensureStateDir } from "../src/tls/state-dir.js";

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), "kubewire-state-"));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe("an existing state directory", () => {
  it("that others may read (0755) is tightened to 0700, in one line that says so", () => {
    const dir = join(base, "state");
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    const notices: string[] = [];
    expect(ensureStateDir(dir, (l) => notices.push(l))).toBe(dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(notices).toEqual([`kubewire: state directory ${dir} was open to other users (mode 755): tightened to 700, as it holds the local CA key`]);
  });

  it("that is already private is used as it is, without a word", () => {
    const dir = join(base, "state");
    const notices: string[] = [];
    ensureStateDir(dir, (l) => notices.push(l));
    ensureStateDir(dir, (l) => notices.push(l));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(notices).toEqual([]);
  });

  it("that others may write (0777) is refused and left alone, with the chmod to run", () => {
    const dir = join(base, "state");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    let err: unknown;
    try {
      ensureStateDir(dir, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(`state directory ${dir} is writable by others (mode 777); refusing to keep the local CA key and tokens in it`);
    expect((err as UserError).hint).toBe(`run: chmod 700 ${dir}`);
    expect(statSync(dir).mode & 0o777).toBe(0o777);
  });
});
