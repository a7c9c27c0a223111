// Opening recordings: creation with private modes, migrations, and one-line refusals of files that are not ours.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { LATEST_VERSION, migrations } from "../src/store/migrations.js";
import { Store } from "../src/store/store.js";
import { exchange } from "./fixtures/exchange.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-open-"));
});
afterEach(() => {
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

function refusal(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain("\n");
    return err as UserError;
  }
  throw new Error("expected a UserError");
}

describe("Store.open", () => {
  it("creates the file 0600 and its folders 0700, with WAL files as private as the database", () => {
    const path = join(dir, "a", "b", "rec.db");
    const store = Store.open(path);
    store.insertMany([exchange()]);
    expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "a", "b")).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}-wal`).mode & 0o777).toBe(0o600);
    store.close();
  });

  it("migrates an empty file to the latest schema, marks it as kubewire's, and uses WAL", () => {
    const path = join(dir, "rec.db");
    writeFileSync(path, "");
    Store.open(path).close();
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma("user_version", { simple: true })).toBe(LATEST_VERSION);
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.prepare("SELECT value FROM meta WHERE key = 'app'").pluck().get()).toBe("kubewire");
    const indexes = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").pluck().all();
    expect(indexes).toEqual(["exchange_flags_kind", "exchanges_chain", "exchanges_error", "exchanges_latency", "exchanges_resource", "exchanges_started_at", "exchanges_stats", "exchanges_status", "exchanges_watch_error"]);
    raw.close();
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
  });

  it("reopens an existing recording without migrating it again", () => {
    const path = join(dir, "rec.db");
    const first = Store.open(path);
    first.insertMany([exchange()]);
    first.close();
    const again = Store.open(path, { readonly: true });
    expect(again.count()).toBe(1);
    again.close();
  });

  it("refuses a missing recording when it may not create one", () => {
    const path = join(dir, "missing.db");
    expect(refusal(() => Store.open(path, { readonly: true })).message).toBe(`no recording at ${path}`);
    expect(refusal(() => Store.open(path, { create: false })).message).toBe(`no recording at ${path}`);
    expect(existsSync(path)).toBe(false);
  });

  it("refuses a file that is not SQLite, and leaves it alone", () => {
    const path = join(dir, "notes.db");
    const notes = "these are my notes, not a database\n".repeat(200);
    writeFileSync(path, notes);
    for (const opts of [{}, { readonly: true }]) {
      expect(refusal(() => Store.open(path, opts)).message).toBe(`${path} is not a SQLite database, so not a kubewire recording`);
    }
    expect(readFileSync(path, "utf8")).toBe(notes);
  });

  it("refuses another program's SQLite database without changing it", () => {
    const path = join(dir, "other.db");
    const raw = new Database(path);
    raw.exec("CREATE TABLE notes (body TEXT)");
    raw.close();
    expect(refusal(() => Store.open(path)).message).toBe(`${path} is a SQLite database but not a kubewire recording`);
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(0);
    expect(check.pragma("journal_mode", { simple: true })).toBe("delete");
    check.close();
  });

  it("refuses a recording written by a newer kubewire, naming both schema versions", () => {
    const path = join(dir, "rec.db");
    Store.open(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${LATEST_VERSION + 1}`);
    raw.close();
    for (const opts of [{}, { readonly: true }]) {
      const err = refusal(() => Store.open(path, opts));
      expect(err.message).toBe(`${path} has schema version ${LATEST_VERSION + 1}, newer than this kubewire build reads (version ${LATEST_VERSION})`);
      expect(err.hint).toBe("upgrade kubewire to read this recording");
    }
  });

  it("refuses an empty database for reading, as it holds no recording", () => {
    const path = join(dir, "empty.db");
    writeFileSync(path, "");
    expect(refusal(() => Store.open(path, { readonly: true })).message).toBe(`${path} is an empty database, not a kubewire recording`);
  });

  it.skipIf(process.getuid?.() === 0)("says why when the folder cannot be written", () => {
    chmodSync(dir, 0o500);
    expect(refusal(() => Store.open(join(dir, "rec.db"))).message).toMatch(/^cannot create .*rec\.db: EACCES/);
  });
});
