// Property-based tests (fast-check) of the parts that read untrusted input: the
// request-info parser, body capture, redaction, and the recorder's write path.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRequestInfo } from "../src/proxy/request-info.js";
import { BodyCapture } from "../src/proxy/body-capture.js";
import { redactBody, REDACTED } from "../src/proxy/redact.js";
import { Recorder } from "../src/record/recorder.js";
import { Store } from "../src/store/store.js";
import { exchange } from "./fixtures/exchange.js";

const segment = fc.oneof(
  fc.constantFrom("api", "apis", "v1", "apps", "namespaces", "default", "pods", "watch", "proxy", "status", "log", "exec", "%zz", "%E0%A4%A", "..", ""),
  fc.string({ maxLength: 12 }),
);
const path = fc.array(segment, { maxLength: 9 }).map((parts) => `/${parts.join("/")}`);
const method = fc.oneof(fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), fc.string({ minLength: 1, maxLength: 10 }));
const query = fc.oneof(fc.constantFrom("", "watch=true", "watch=1", "fieldSelector=metadata.name%3Dx", "%%%", "limit=500&continue=abc"), fc.string({ maxLength: 40 }));

describe("fuzzing", () => {
  it("parses any method, path and query into request info without throwing", () => {
    fc.assert(
      fc.property(method, path, query, (m, p, q) => {
        const info = parseRequestInfo(m, p, q);
        expect(typeof info.verb).toBe("string");
        if (!info.isResourceRequest) expect(info.resource).toBe("");
        else expect(["api", "apis"]).toContain(info.apiPrefix);
        if (info.namespace) expect(p).toContain("namespaces");
        if (info.verb === "deletecollection") expect(info.name).toBe("");
      }),
      { numRuns: 3000 },
    );
  });

  it("captures at most the limit of any stream of chunks and counts every byte", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 40 }), fc.integer({ min: 1, max: 2000 }), (chunks, limit) => {
        const capture = new BodyCapture(limit, true);
        for (const c of chunks) capture.push(Buffer.from(c));
        const total = chunks.reduce((n, c) => n + c.length, 0);
        const body = capture.result();
        if (total === 0) {
          expect(body).toBeNull();
          return;
        }
        expect(body!.size).toBe(total);
        const kept = body!.encoding === "base64" ? Buffer.from(body!.data, "base64").length : Buffer.byteLength(body!.data);
        expect(kept).toBeLessThanOrEqual(limit);
        expect(body!.truncated).toBe(total > limit);
        expect(capture.newlines).toBe(chunks.reduce((n, c) => n + c.filter((b) => b === 10).length, 0));
      }),
      { numRuns: 1000 },
    );
  });

  it("never lets a Secret value through redaction, whatever the Secret holds", () => {
    const info = parseRequestInfo("GET", "/api/v1/namespaces/default/secrets/x", "");
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 6, maxLength: 30 }).map((s) => `V${s}Z`)), fc.boolean(), (data, asList) => {
        const secret = { kind: "Secret", apiVersion: "v1", metadata: { name: "x" }, data };
        const doc = asList ? { kind: "SecretList", items: [{ metadata: { name: "x" }, data }] } : secret;
        const text = JSON.stringify(doc);
        const out = redactBody({ data: text, encoding: "utf8", truncated: false, size: text.length }, info, "application/json");
        for (const v of Object.values(data)) expect(out!.data.includes(JSON.stringify(v))).toBe(false);
        if (Object.keys(data).length) expect(out!.data).toContain(REDACTED);
      }),
      { numRuns: 500 },
    );
  });

  it("redacts any text body without throwing", () => {
    const info = parseRequestInfo("POST", "/api/v1/namespaces/default/secrets", "");
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.boolean(), (text, truncated) => {
        const out = redactBody({ data: text, encoding: "utf8", truncated, size: text.length }, info, "application/json");
        expect(out === null || typeof out.data === "string").toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("records any exchange the proxy can build, odd strings included, and reads it back unchanged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubewire-fuzz-"));
    const recorder = new Recorder({ dbPath: join(dir, "fuzz.db"), batchMs: 5 });
    recorder.open();
    const odd = fc.string({ maxLength: 60, unit: "binary" });
    const samples = fc.sample(
      fc.record({ path: odd, query: odd, method: odd, ua: odd, status: fc.option(fc.integer({ min: 100, max: 599 })), body: odd, error: fc.option(odd) }),
      { numRuns: 300, seed: 42 },
    );
    const sent = samples.map((s) =>
      exchange({
        request: { method: s.method, path: s.path, query: s.query, body: { data: s.body, encoding: "utf8", truncated: false, size: s.body.length } },
        client: { address: "127.0.0.1", userAgent: s.ua },
        response: s.status === null ? null : undefined,
        error: s.error === null ? null : { code: "ECONNRESET", message: s.error },
      }),
    );
    for (const ex of sent) recorder.record(ex);
    recorder.record({ not: "an exchange" } as never);
    const stats = await recorder.close();
    expect(stats.written).toBe(sent.length);
    const store = Store.open(join(dir, "fuzz.db"), { readonly: true });
    try {
      const rows = store.list({});
      expect(rows).toHaveLength(sent.length);
      rows.forEach((row, i) => {
        const back = store.get(row.id)!;
        expect(back.request.path).toBe(sent[i].request.path);
        expect(back.request.body?.data).toBe(sent[i].request.body?.data);
        expect(back.error?.message ?? null).toBe(sent[i].error?.message ?? null);
      });
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
