#!/usr/bin/env node
// Times schema step 6 (kubewire's own answers become proxyAnswer, status NULL) on a large recording:
// takes a recording made by gen-recording.mjs, turns it back into the version-4 shape (each answer as a
// response marked fromProxy), then times the migration Store.open runs, and checks what it changed.
// Usage: npx tsc -p tsconfig.json && node scripts/gen-recording.mjs /tmp/kw-bench.db && node scripts/bench-migrate-answers.mjs /tmp/kw-bench.db
import { copyFileSync, existsSync, rmSync } from "node:fs";
import Database from "better-sqlite3";
import { Store } from "../dist/store/store.js";

const source = process.argv[2] ?? "/tmp/kubewire-bench.db";
const path = `${source}.v4.db`;
for (const suffix of ["", "-wal", "-shm"]) if (existsSync(path + suffix)) rmSync(path + suffix);
copyFileSync(source, path);

const db = new Database(path);
const total = db.prepare("SELECT count(*) FROM exchanges").pluck().get();
db.exec(`
  UPDATE exchanges SET status = (SELECT json_extract(d.detail, '$.proxyAnswer.status') FROM exchange_details d WHERE d.exchange_id = exchanges.id),
    bytes_out = 120
    WHERE error_code IS NOT NULL AND status IS NULL
      AND EXISTS (SELECT 1 FROM exchange_details d WHERE d.exchange_id = exchanges.id AND json_extract(d.detail, '$.proxyAnswer') IS NOT NULL);
  UPDATE exchange_details SET detail = json_remove(json_set(detail, '$.response', json_set(json_extract(detail, '$.proxyAnswer'), '$.fromProxy', json('true'))), '$.proxyAnswer', '$.response.status')
    WHERE json_extract(detail, '$.proxyAnswer') IS NOT NULL;
`);
const answers = db.prepare("SELECT count(*) FROM exchange_details WHERE json_extract(detail, '$.response.fromProxy') = 1").pluck().get();
db.pragma("user_version = 4");
db.close();

const t0 = performance.now();
const store = Store.open(path);
const ms = performance.now() - t0;
const errors = store.count({ status: "error" });
store.close();
const left = new Database(path, { readonly: true }).prepare("SELECT count(*) FROM exchange_details WHERE json_extract(detail, '$.response.fromProxy') = 1").pluck().get();
console.log(`${total} exchanges, ${answers} of them kubewire's own answers: migrated in ${(ms / 1000).toFixed(2)} s; ${errors} now without a response, ${left} answers left as responses`);
rmSync(path, { force: true });
for (const suffix of ["-wal", "-shm"]) rmSync(path + suffix, { force: true });
