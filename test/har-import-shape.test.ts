// `kubewire import --har` trusts a kubewire export's "_kubewire" block only once it has the right shape:
// a block changed by hand or by another tool is refused with one line naming the entry and the field,
// never a crash and never rows of garbage; an export made before kubewire kept its own answers apart
// (its 502 written as the response, marked fromProxy) comes back as an error without a response.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHarEntry } from "../src/export/har-write.js";
import { Store } from "../src/store/store.js";
import { exchange } from "./fixtures/exchange.js";
import { kubewire } from "./helpers/world.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kubewire-har-shape-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A one-entry kubewire export whose entry is changed by `edit`. */
function harFile(name: string, edit: (entry: any) => void): string {
  const entry = JSON.parse(JSON.stringify(toHarEntry(exchange())));
  edit(entry);
  const file = join(dir, `${name}.har`);
  writeFileSync(file, JSON.stringify({ log: { version: "1.2", creator: { name: "kubewire", version: "0" }, entries: [entry] } }));
  return file;
}

describe("importing a kubewire HAR whose _kubewire block has the wrong shape", () => {
  it.each([
    ["a timing that is not a number", (e: any) => (e._kubewire.timing.ttfbMs = "fast"), '_kubewire.timing.ttfbMs is "fast", not a number'],
    ["request info that is null", (e: any) => (e._kubewire.info = null), "_kubewire.info is null, not an object"],
    ["a version kubewire does not know", (e: any) => (e._kubewire.version = 2), "_kubewire.version is 2, not 1"],
    ["an error code that is a number", (e: any) => (e._kubewire.error = { code: 5, message: "x" }), "_kubewire.error.code is 5, not a string"],
    ["a certificate whose SANs are a string", (e: any) => (e._kubewire.tls.chain[1].san = "kubernetes"), '_kubewire.tls.chain[1].san is "kubernetes", not a list'],
    ["a stream ended by nobody kubewire knows", (e: any) => (e._kubewire.stream = { kind: "watch", events: 1, bytesIn: 0, bytesOut: 0, durationMs: 1, endedBy: "moon" }), '_kubewire.stream.endedBy is "moon", not one of "client", "server", "proxy"'],
    ["a missing context", (e: any) => delete e._kubewire.context, "_kubewire.context is missing (it should be a string)"],
    ["a block that is a string", (e: any) => (e._kubewire = "yes"), '_kubewire is "yes", not an object'],
    ["a response status that is text", (e: any) => (e.response.status = "200"), 'response.status "200" is not an HTTP status code (or 0 for no response)'],
  ])("refuses %s in one line naming the entry and the field, importing nothing", async (_name, edit, reason) => {
    const file = harFile(_name.replace(/\W+/g, "-"), edit);
    const db = join(dir, "never.db");
    const r = await kubewire(["import", "--har", file, "--db", db]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(`error: ${file}: log.entries[0]: ${reason}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(db)).toBe(false);
  });
});

describe("importing an export made before kubewire kept its own answers apart", () => {
  it("reads the 502 kubewire wrote as kubewire's answer to an error, not as the API server's response", async () => {
    const text = "kubewire: cannot reach the API server https://127.0.0.1:6443: dial 127.0.0.1:6443: connection refused [ECONNREFUSED, connect]";
    const file = harFile("old-export", (e) => {
      e.response = { ...e.response, status: 502, statusText: "Bad Gateway", headers: [{ name: "content-type", value: "text/plain; charset=utf-8" }], content: { size: text.length, mimeType: "text/plain; charset=utf-8", text }, bodySize: text.length };
      e._kubewire.error = { code: "ECONNREFUSED", message: "dial 127.0.0.1:6443: connection refused", phase: "connect" };
      e._kubewire.fromProxy = true;
      e._kubewire.responseBody = { encoding: "utf8", truncated: false, size: text.length };
      e._kubewire.responseBytes = text.length;
      delete e._kubewire.proxyAnswer;
    });
    const db = join(dir, "old.db");
    const r = await kubewire(["import", "--har", file, "--db", db]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const store = Store.open(db, { readonly: true });
    try {
      const [ex] = [...store.iterate()];
      expect(ex.response).toBeNull();
      expect(ex.error?.code).toBe("ECONNREFUSED");
      expect(ex.proxyAnswer).toMatchObject({ status: 502, body: { data: text } });
      expect(store.list({ status: "error" })).toHaveLength(1);
    } finally {
      store.close();
    }
  });
});
