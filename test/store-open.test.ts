// Opening recordings: creation with private modes, migrations, and one-line refusals of files that are not ours.
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../src/errors.js";
import { LATEST_VERSION, migrations } from "../src/store/migrations.js";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import { kubewire } from "./helpers/world.js";
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

  it("makes a new recording with 16 KiB pages and leaves an existing recording's page size as it is", () => {
    const fresh = join(dir, "new.db");
    Store.open(fresh).close();
    const older = join(dir, "older.db");
    const seed = new Database(older);
    seed.pragma("journal_mode = WAL"); // a recording made before: SQLite's default 4 KiB pages
    seed.close();
    Store.open(older).close();
    const store = Store.open(older);
    store.insertMany([exchange()]);
    store.close();
    const pageSize = (path: string) => {
      const raw = new Database(path, { readonly: true });
      try {
        return raw.pragma("page_size", { simple: true });
      } finally {
        raw.close();
      }
    };
    expect([pageSize(fresh), pageSize(older)]).toEqual([16384, 4096]);
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
    expect(indexes).toEqual(["exchange_flags_kind", "exchanges_chain", "exchanges_error", "exchanges_latency", "exchanges_resource", "exchanges_source", "exchanges_started_at", "exchanges_stats", "exchanges_status", "exchanges_watch_error"]);
    raw.close();
    // Increasing from 1, not necessarily contiguous (the runner skips any step at or below the recording's version).
    const versions = migrations.map((m) => m.version);
    expect(versions[0]).toBe(1);
    expect(versions.every((v, i) => i === 0 || v > versions[i - 1])).toBe(true);
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

/** A recording of n exchanges whose pages are then overwritten in places, as a bad disk or a stray write would. */
function damagedRecording(path: string, n = 2000): void {
  const store = Store.open(path);
  store.insertMany(Array.from({ length: n }, (_, i) => ({ ...exchange(), startedAt: exchange().startedAt + i })));
  store.close();
  const size = statSync(path).size;
  const pageSize = readFileSync(path).readUInt16BE(16); // the header's page size
  const fd = openSync(path, "r+");
  for (let page = 3; page < size / pageSize; page += 2) writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, page * pageSize + 100);
  closeSync(fd);
}

describe("a damaged recording", () => {
  it("is refused at start in one line that says it is damaged and what to do, and left as it was", () => {
    const path = join(dir, "rec.db");
    damagedRecording(path);
    const before = readFileSync(path);
    const err = refusal(() => Store.open(path, { check: true }));
    expect(err.message).toMatch(new RegExp(`^${path.replace(/[.]/g, "\\.")} is damaged \\(SQLite: .+\\); kubewire will neither record into it nor read it$`));
    expect(err.hint).toBe(`move it aside to start a new recording (mv ${path} ${path}.damaged); sqlite3's .recover command may save what it holds`);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it("stops the recorder at open (what start runs) instead of spilling every exchange beside it", () => {
    const path = join(dir, "rec.db");
    damagedRecording(path);
    const recorder = new Recorder({ dbPath: path });
    expect(refusal(() => recorder.open()).message).toMatch(/ is damaged \(SQLite: .+\); kubewire will neither record into it nor read it$/);
    expect(existsSync(`${path}.spill.jsonl`)).toBe(false);
  });

  it("makes `kubewire ls` print that one line and exit 2, not call it a bug", async () => {
    const path = join(dir, "rec.db");
    damagedRecording(path);
    const out = await kubewire(["ls", "--db", path]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/^error: .*rec\.db is damaged \(SQLite: .+\); kubewire will neither record into it nor read it\n/);
    expect(out.stderr).not.toMatch(/bug/);
  });

  it("gives the query commands the same line when a read reaches a damaged page", () => {
    const path = join(dir, "rec.db");
    damagedRecording(path);
    const store = Store.open(path, { readonly: true });
    try {
      expect(refusal(() => store.list({})).message).toMatch(/ is damaged \(SQLite: .+\); kubewire will neither record into it nor read it$/);
    } finally {
      store.close();
    }
  });
});

describe("loose modes on an existing recording", () => {
  it("tightens a recording and its WAL that others may read to 0600, and says so in one line each", () => {
    const path = join(dir, "rec.db");
    const store = Store.open(path);
    store.insertMany([exchange()]);
    chmodSync(path, 0o644);
    chmodSync(`${path}-wal`, 0o644);
    const notices: string[] = [];
    const reader = Store.open(path, { notice: (l) => notices.push(l) });
    expect(reader.count()).toBe(1);
    reader.close();
    store.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(notices).toEqual([
      `kubewire: ${path} was open to other users (mode 644): tightened to 600, as it holds recorded API traffic`,
      `kubewire: ${path}-wal was open to other users (mode 644): tightened to 600, as it holds recorded API traffic`,
    ]);
  });

  it.skipIf(process.getuid?.() !== 0)("refuses another user's recording that others may read, naming the chmod to run", () => {
    const path = join(dir, "theirs.db");
    Store.open(path).close();
    chmodSync(path, 0o644);
    chownSync(path, 65534, 65534);
    const err = refusal(() => Store.open(path, { readonly: true }));
    expect(err.message).toBe(`${path} is open to other users (mode 644) and kubewire cannot tighten it; refusing to use it, as it holds recorded API traffic`);
    expect(err.hint).toBe(`run: chmod 600 ${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o644);
  });
});
