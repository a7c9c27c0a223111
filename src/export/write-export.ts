// Writes an export of recorded exchanges, streamed from the store in bounded memory: a HAR 1.2
// file, or JSON Lines (one `show -o json` object per line); to a file (atomically) or stdout.
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { UserError } from "../errors.js";
import { explainFlags, showData } from "../report/exchange-report.js";
import type { Exchange } from "../types.js";
import type { ListFilter, Store } from "../store/store.js";
import { HAR_VERSION, toHarEntry } from "./har-write.js";

export interface ExportCounts {
  written: number;
  /** exchanges with no request at all (a client whose TLS handshake failed): not in a HAR */
  skipped: number;
}

interface Sink {
  write(text: string): void;
  commit(): void;
  abort(): void;
}

/** "-" is stdout; a file is written beside its final name and renamed into place when complete. */
function openSink(path: string): Sink {
  if (path === "-") return { write: (t) => void process.stdout.write(t), commit: () => undefined, abort: () => undefined };
  const tmp = `${path}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(tmp, "w", 0o600);
  } catch (err) {
    throw new UserError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let buf = "";
  const flush = () => {
    if (buf) writeSync(fd, buf);
    buf = "";
  };
  return {
    write: (t) => {
      buf += t;
      if (buf.length >= 1 << 20) flush();
    },
    commit: () => {
      flush();
      closeSync(fd);
      renameSync(tmp, path);
    },
    abort: () => {
      closeSync(fd);
      rmSync(tmp, { force: true });
    },
  };
}

function withSink(path: string, fn: (sink: Sink) => ExportCounts): ExportCounts {
  const sink = openSink(path);
  try {
    const counts = fn(sink);
    sink.commit();
    return counts;
  } catch (err) {
    sink.abort();
    throw err;
  }
}

export function exportHar(store: Store, filter: ListFilter, path: string, version: string): ExportCounts {
  return withSink(path, (sink) => {
    const counts = { written: 0, skipped: 0 };
    const head = JSON.stringify({ log: { version: HAR_VERSION, creator: { name: "kubewire", version }, pages: [], entries: [] } }, null, 2);
    const [before, after] = head.split('"entries": []');
    sink.write(`${before}"entries": [`);
    for (const ex of store.iterate(filter)) {
      const entry = toHarEntry(ex);
      if (!entry) {
        counts.skipped++;
        continue;
      }
      sink.write(`${counts.written ? "," : ""}\n${JSON.stringify(entry)}`);
      counts.written++;
    }
    sink.write(`\n    ]${after}\n`);
    return counts;
  });
}

const JSONL_BATCH = 500;

/** Each exchange as `show -o json` prints it: the exchange, then its flags explained. */
export function exportJsonl(store: Store, filter: ListFilter, path: string): ExportCounts {
  return withSink(path, (sink) => {
    let written = 0;
    let batch: Exchange[] = [];
    const flush = () => {
      const kinds = new Map(store.list({ ids: batch.map((ex) => ex.id!) }).map((r) => [r.id, r.flags]));
      for (const ex of batch) sink.write(`${JSON.stringify({ ...showData(ex), flags: explainFlags(ex, kinds.get(ex.id!) ?? []) })}\n`);
      written += batch.length;
      batch = [];
    };
    for (const ex of store.iterate(filter)) {
      batch.push(ex);
      if (batch.length >= JSONL_BATCH) flush();
    }
    if (batch.length) flush();
    return { written, skipped: 0 };
  });
}
