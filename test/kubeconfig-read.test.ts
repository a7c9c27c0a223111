// Reading kubeconfigs without the YAML library: a document is read exactly as the library reads
// it, or handed to the library; and the one function that masks exec plugin argv for printing.
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parse, stringify } from "yaml";
import { parsePlainYaml } from "../src/kubeconfig/fast-yaml.js";
import { maskArgv } from "../src/kubeconfig/exec-plugin.js";
import { clientKubeconfigYaml } from "../src/kubeconfig/client-kubeconfig.js";
import { KUBECTL, run } from "./helpers/world.js";

/** The fast reader either agrees with the YAML library or declines. */
function agrees(text: string): "same" | "declined" {
  const fast = parsePlainYaml(text);
  if (fast === null) return "declined";
  expect(fast).toEqual(parse(text));
  return "same";
}

describe("reading plain kubeconfig YAML", () => {
  it.skipIf(!existsSync(KUBECTL))("reads what kubectl config writes exactly as the YAML library does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubewire-read-"));
    const file = join(dir, "config");
    try {
      const k = (...args: string[]) => run(KUBECTL, ["--kubeconfig", file, "config", ...args]);
      await k("set-cluster", "prod", "--server=https://10.0.0.1:6443", "--certificate-authority-data=TFMwdExTMUNSVWRKVGlCRFJWSlU=", "--tls-server-name=kubernetes");
      await k("set-credentials", "alice", "--token=0123abc:def", "--exec-command=kubelogin", "--exec-arg=get-token", "--exec-arg=--server-id=42", "--exec-api-version=client.authentication.k8s.io/v1", "--exec-interactive-mode=Never");
      await k("set-context", "prod", "--cluster=prod", "--user=alice", "--namespace=team-a");
      await k("use-context", "prod");
      expect(agrees(readFileSync(file, "utf8"))).toBe("same");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ["a multi-line plain scalar", "users:\n- name: a\n  user:\n    exec:\n      installHint: first line\n        second line\n"],
    ["an anchor", "a: &x 1\nb: *x\n"],
    ["a block scalar", "a: |\n  text\n"],
    ["a flow mapping", "a: {b: 1}\n"],
    ["a float and a hex number", "a: 1.5\nb: 0x1f\n"],
    ["a comment after a value", "a: b # c\n"],
    ["a tab", "a:\tb\n"],
    ["two documents", "a: 1\n---\nb: 2\n"],
    ["a duplicate key", "a: 1\na: 2\n"],
  ])("leaves %s to the YAML library", (_what, text) => {
    expect(parsePlainYaml(text)).toBeNull();
  });

  it("agrees with the YAML library on every kubeconfig-shaped document it reads", () => {
    const word = fc.oneof(
      fc.constantFrom("v1", "Config", "true", "False", "null", "~", "0", "-1", "007", "1e3", ".inf", "0o17", "yes", "on", "--flag", "-", "a: b", "a #b", "#c", "'q'", '"d"', "x'y", "[]", "{}", "*a", "&b", "!t", "é", "https://h:6443/p?q=1#f"),
      fc.string({ maxLength: 12 }),
    );
    const leaf = fc.oneof(word, fc.boolean(), fc.integer({ min: -1000, max: 1000 }), fc.constant(null));
    const key = fc.oneof(fc.constantFrom("name", "server", "certificate-authority-data", "as-user-extra", "client.authentication.k8s.io/exec"), fc.string({ minLength: 1, maxLength: 8 }));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(key, tie("node"), { maxKeys: 3 })),
    })).node;
    const doc = fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 });
    const styles = fc.constantFrom<Parameters<typeof stringify>[1]>({}, { indentSeq: false }, { indent: 4 }, { defaultStringType: "QUOTE_DOUBLE" }, { defaultStringType: "QUOTE_SINGLE" }, { lineWidth: 20 });
    let read = 0;
    fc.assert(
      fc.property(doc, styles, (d, style) => {
        if (agrees(stringify(d, style)) === "same") read++;
      }),
      { numRuns: 400 },
    );
    expect(read).toBeGreaterThan(20); // it reads many of them itself (random strings often need the library)
  });

  it("reads back the kubeconfig kubewire writes, names with quotes, colons and hashes included", () => {
    const name = 'a b:"c" #x';
    const merged = { contexts: [{ name, context: { cluster: "c", user: "u", extensions: [{ name: "e", extension: { list: [1, "two", { y: null }] } }] } }], clusters: [{ name: "c", cluster: { server: "s", "disable-compression": true } }], users: [{ name: "u", user: { token: "secret" } }] };
    const text = clientKubeconfigYaml({ contextName: name, namespace: "", proxyUrl: "", caPem: "PEM", token: "t", merged, clusterUrls: new Map([["c", "https://127.0.0.1:20001"]]), tokens: new Map([["u", "t"]]) });
    const doc = parse(text);
    expect(doc["current-context"]).toBe(name);
    expect(doc.contexts[0].context.extensions).toEqual(merged.contexts[0].context.extensions);
    expect(doc.clusters[0].cluster).toEqual({ server: "https://127.0.0.1:20001", "certificate-authority-data": "UEVN", "disable-compression": true });
    expect(doc.users).toEqual([{ name: "u", user: { token: "t" } }]);
    expect(agrees(text)).not.toBeUndefined();
  });
});

describe("masking exec plugin argv", () => {
  it.each([
    [["kubelogin", "get-token", "--oidc-client-secret=s3cr3t"], "kubelogin get-token --oidc-client-secret=***"],
    [["aws", "eks", "get-token", "--cluster-name", "prod", "--token", "abc"], "aws eks get-token --cluster-name prod --token ***"],
    [["tool", "--password", "p", "--api-key", "k", "--keyring", "ring"], "tool --password *** --api-key *** --keyring ***"],
    [["tool", "--region=eu"], "tool --region=***"],
    [["tool", "--secret", "--verbose"], "tool --secret --verbose"],
  ])("prints %j as %s", (argv, shown) => {
    expect(maskArgv(argv)).toBe(shown);
  });
});
