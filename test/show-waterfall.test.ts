// The timing waterfall that `show` draws tells the same story as the error: bars stop at the phase
// that failed, that phase holds the time to the end, and it is marked with the error's code.
import { describe, expect, it } from "vitest";
import { renderPage } from "../src/cli/commands/show.js";
import type { Paint } from "../src/format/output.js";
import { exchange } from "./fixtures/exchange.js";

const plain: Paint = { bold: (s) => s, red: (s) => s, green: (s) => s, yellow: (s) => s, dim: (s) => s };
const timingLines = (page: string) => page.split("\n").filter((l) => /^ {2}(dns|connect|tls|wait|receive|total) /.test(l));

describe("the show waterfall", () => {
  it.each([
    ["a TLS handshake that timed out", { code: "ETIMEDOUT", message: "TLS handshake timed out", phase: "tls" }, { dnsMs: 1, connectMs: 2, tlsMs: 0, ttfbMs: 0, totalMs: 10_003 }, ["dns", "connect", "tls"], "tls", "10.0s"],
    ["a certificate rejected in the handshake", { code: "CERT_HAS_EXPIRED", message: "x509: certificate has expired", phase: "tls" }, { dnsMs: 1, connectMs: 2, tlsMs: 5, ttfbMs: 0, totalMs: 9 }, ["dns", "connect", "tls"], "tls", " 6ms "],
    ["a refused connection", { code: "ECONNREFUSED", message: "connect ECONNREFUSED", phase: "connect" }, { dnsMs: 0, connectMs: 0, tlsMs: 0, ttfbMs: 0, totalMs: 3 }, ["dns", "connect"], "connect", " 3ms "],
    ["an API server that sent no headers in time", { code: "ETIMEDOUT", message: "no response headers", phase: "headers" }, { dnsMs: 0, connectMs: 1, tlsMs: 2, ttfbMs: 0, totalMs: 60_003 }, ["dns", "connect", "tls", "wait"], "wait", "60.0s"],
  ])("stops at the failing phase and marks it: %s", (_what, error, timing, phases, failed, failedTime) => {
    const ex = exchange({ id: 7, response: null, error, timing: { ...timing, reusedConnection: false } });
    const lines = timingLines(renderPage(ex, plain));
    expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual([...phases, "total"]);
    const marked = lines.find((l) => l.includes("✗"))!;
    expect(marked.trim().split(/\s+/)[0]).toBe(failed);
    expect(marked).toContain(failedTime);
    expect(marked).toContain(`✗ ${error.code}`);
  });

  it("draws every phase of an exchange that succeeded, none marked", () => {
    const lines = timingLines(renderPage(exchange({ id: 8 }), plain));
    expect(lines.map((l) => l.trim().split(/\s+/)[0])).toEqual(["dns", "connect", "tls", "wait", "receive", "total"]);
    expect(lines.join("\n")).not.toContain("✗");
  });
});
