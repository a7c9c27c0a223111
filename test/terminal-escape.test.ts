// Text from the wire never drives the terminal: every control character kubewire would print
// (from a path, a header, a body or an API server message) is shown escaped instead.
import { describe, expect, it } from "vitest";
import { renderPage } from "../src/cli/commands/show.js";
import { escapeDeep, escapeTerminal, json, yaml, type Paint } from "../src/format/output.js";
import { bytesField } from "../src/proxy/protobuf.js";
import { exchange } from "./fixtures/exchange.js";

describe("terminal escaping", () => {
  it.each([
    ["an ESC sequence that clears the screen", "a\x1b[2Jb", "a\\x1b[2Jb"],
    ["an OSC that retitles the terminal, ended by BEL", "\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"],
    ["a C1 control sequence introducer", "x\u009b31m", "x\\x9b31m"],
    ["a carriage return that would overwrite the line", "ok\rFAKE", "ok\\x0dFAKE"],
    ["DEL and NUL", "\x7f\x00", "\\x7f\\x00"],
    ["a right-to-left override", "abc\u202edcb", "abc\\u202edcb"],
    ["tab and newline, which stay", "a\tb\nc", "a\tb\nc"],
    ["ordinary text, accents and emoji, which stay", "café ✓ 🚀", "café ✓ 🚀"],
  ])("escapes %s", (_name, input, expected) => {
    expect(escapeTerminal(input)).toBe(expected);
  });

  it("escapes every string of a nested value, keys included, and leaves other values alone", () => {
    expect(escapeDeep({ "k\x1b": ["\x1b[31m", 3, null, { b: true }] })).toEqual({ "k\\x1b": ["\\x1b[31m", 3, null, { b: true }] });
  });

  it("keeps JSON output valid and the same data while writing C1 and bidi characters as \\u escapes", () => {
    const value = { m: "a\u009b\u202e\x1bz" };
    const text = json(value);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it("prints YAML without raw control characters", () => {
    expect(yaml({ m: "a\u009b\u202e\x1bz" })).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
  });
});

describe("show's page", () => {
  const plain: Paint = { red: (s) => s, yellow: (s) => s, green: (s) => s, dim: (s) => s, bold: (s) => s };

  it("escapes a hostile path and reads a protobuf body that was stored as UTF-8 text", () => {
    const secret = Buffer.concat([bytesField(1, bytesField(1, "s")), bytesField(3, "Opaque")]);
    const proto = Buffer.concat([Buffer.from("k8s\0", "latin1"), bytesField(1, Buffer.concat([bytesField(1, "v1"), bytesField(2, "Secret")])), bytesField(2, secret)]);
    const ex = exchange({
      request: { method: "POST", path: "/api/v1/namespaces/default/secrets/\x1b[2J", headers: { "content-type": "application/vnd.kubernetes.protobuf" }, body: { data: proto.toString("utf8"), encoding: "utf8", truncated: false, size: proto.length } },
    });
    const page = renderPage(ex, plain);
    expect(page).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/);
    expect(page).toContain("secrets/\\x1b[2J");
    expect(page).toContain('# Kubernetes protobuf: apiVersion "v1" kind "Secret"');
    expect(page).toContain('3: "Opaque"');
  });
});
