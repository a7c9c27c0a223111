// Single doctor checks in process: the step registry, did-you-mean, base64/PEM decoding,
// NO_PROXY, SAN matching, the grant commands, the in-cluster step, and the human rendering.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { steps } from "../src/doctor/index.js";
import { decodePemData, didYouMean, kubeconfigStructure } from "../src/doctor/kubeconfig-structure.js";
import { effectiveProxy, noProxyMatches } from "../src/kubeconfig/proxy-env.js";
import { sanMatches } from "../src/doctor/tls-handshake.js";
import { grantCommands, parseResource } from "../src/doctor/authorization.js";
import { inCluster } from "../src/doctor/in-cluster.js";
import type { DoctorContext, DoctorOptions } from "../src/doctor/lib/step.js";
import { canPairs, renderReport } from "../src/cli/commands/doctor.js";
import { UserError } from "../src/errors.js";
import { makeCa } from "../src/tls/cert-factory.js";
import { ROOT } from "./helpers/world.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "kubewire-doctor-"));
  dirs.push(d);
  return d;
}

function context(over: Partial<DoctorOptions> = {}): DoctorContext {
  const opts: DoctorOptions = { can: [], timeoutMs: 1000, inCluster: false, env: {}, serviceAccountDir: "/nonexistent", warn: () => undefined, ...over };
  return { opts, files: [], configs: [], namespace: "default" };
}

const noColour = { red: (s: string) => s, yellow: (s: string) => s, green: (s: string) => s, dim: (s: string) => s, bold: (s: string) => s };

describe("the doctor's steps", () => {
  it("lists every step file in src/doctor/index.ts, numbered in order", () => {
    const dir = join(ROOT, "src/doctor");
    const stepFiles = readdirSync(dir).filter((f) => f.endsWith(".ts") && /export const \w+: Step = \{/.test(readFileSync(join(dir, f), "utf8")));
    expect(steps).toHaveLength(stepFiles.length);
    expect(steps.map((s) => s.number)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const f of readdirSync(dir).filter((x) => x.endsWith(".ts"))) expect(readFileSync(join(dir, f), "utf8"), f).toMatch(/^\/\/ /);
  });

  it("suggests the key a misspelt one meant, and nothing for a word far from every key", () => {
    const known = ["certificate-authority", "certificate-authority-data", "server", "tls-server-name"];
    expect(didYouMean("certificate-authority-date", known)).toBe("certificate-authority-data");
    expect(didYouMean("sever", known)).toBe("server");
    expect(didYouMean("colour", known)).toBeUndefined();
  });

  it("tells base64 that does not decode from base64 that holds no PEM", () => {
    expect(decodePemData("!!!", "certificate").problem).toBe("is not valid base64");
    expect(decodePemData(Buffer.from("hello").toString("base64"), "certificate").problem).toBe("decodes, but does not hold a PEM certificate");
    expect(decodePemData(Buffer.from("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").toString("base64"), "certificate").problem).toMatch(/^decodes, but holds a certificate that does not parse/);
  });

  it("reports a kubeconfig without current-context at step 1 and blocks every later step", async () => {
    const dir = tempDir();
    const file = join(dir, "config");
    writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n");
    const out = await kubeconfigStructure.run(context({ kubeconfig: file }));
    expect(out.checks.at(-1)).toEqual({ name: "current-context", status: "fail", detail: "no current-context is set and --context was not given (contexts: a)", fix: "kubectl config use-context a" });
    expect(out.blocks).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it("reads NO_PROXY as Go does: suffixes, leading dots, ports and CIDRs", () => {
    expect(noProxyMatches("example.com", "api.example.com", 6443)).toBe(true);
    expect(noProxyMatches(".example.com", "example.com", 6443)).toBe(false);
    expect(noProxyMatches("10.0.0.0/8", "10.1.2.3", 443)).toBe(true);
    expect(noProxyMatches("api.example.com:443", "api.example.com", 6443)).toBe(false);
    expect(noProxyMatches("*", "anything", 1)).toBe(true);
    const server = new URL("https://api.example.com:6443");
    expect(effectiveProxy(server, undefined, { HTTPS_PROXY: "http://user:secret@proxy:3128" }).why).toBe("HTTPS_PROXY=http://user:***@proxy:3128/ applies (api.example.com is not in NO_PROXY)");
    expect(effectiveProxy(server, undefined, { HTTPS_PROXY: "http://proxy:3128", NO_PROXY: ".example.com" }).url).toBeUndefined();
  });

  it("matches host names against SANs as crypto/x509 does", () => {
    expect(sanMatches("api.example.com", ["DNS:*.example.com"])).toBe(true);
    expect(sanMatches("a.b.example.com", ["DNS:*.example.com"])).toBe(false);
    expect(sanMatches("127.0.0.1", ["DNS:localhost", "IP:127.0.0.1"])).toBe(true);
    expect(sanMatches("::1", ["IP:0:0:0:0:0:0:0:1"])).toBe(true);
    expect(sanMatches("10.0.0.1", ["DNS:10.0.0.1"])).toBe(false);
  });

  it("writes the Role and RoleBinding that would allow a denied request, for users and service accounts", () => {
    expect(grantCommands(parseResource("create", "deployments", "shop"), "ci")).toBe(
      "kubectl create role create-deployments --verb=create --resource=deployments.apps -n shop && kubectl create rolebinding create-deployments --role=create-deployments --user=ci -n shop",
    );
    expect(grantCommands(parseResource("list", "nodes", "shop"), "system:serviceaccount:shop:builder")).toBe(
      "kubectl create clusterrole list-nodes --verb=list --resource=nodes && kubectl create clusterrolebinding list-nodes --clusterrole=list-nodes --serviceaccount=shop:builder",
    );
    expect(parseResource("get", "pods/log", "x")).toEqual({ verb: "get", resource: "pods", subresource: "log", group: "", namespace: "x" });
  });

  it("refuses --can words that are not VERB RESOURCE pairs", () => {
    expect(canPairs(["list", "pods", "create", "deployments.apps"])).toEqual([["list", "pods"], ["create", "deployments.apps"]]);
    expect(() => canPairs(["list"])).toThrow(UserError);
    expect(() => canPairs(["lst", "pods"])).toThrow(/"lst" is not a Kubernetes verb/);
  });

  it("shows what InClusterConfig would use, and an expired service account token", async () => {
    const dir = tempDir();
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) - 60;
    writeFileSync(join(dir, "token"), `${b64({ alg: "RS256" })}.${b64({ iss: "https://kubernetes.default.svc", sub: "system:serviceaccount:shop:web", exp })}.c2ln`);
    writeFileSync(join(dir, "namespace"), "shop");
    const ctx = context({ env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, serviceAccountDir: dir });
    expect(inCluster.applies!(ctx)).toBe(true);
    const out = await inCluster.run(ctx);
    const by = Object.fromEntries(out.checks.map((c) => [c.name, c]));
    expect(by.service).toMatchObject({ status: "pass", detail: "KUBERNETES_SERVICE_HOST/PORT → https://10.96.0.1:443" });
    expect(by["service account token"].status).toBe("fail");
    expect(by["service account token"].detail).toMatch(/sub=system:serviceaccount:shop:web\) that expired at/);
    expect(by["ca.crt"]).toMatchObject({ status: "fail", detail: expect.stringContaining("no such file") });
    expect(by.namespace).toMatchObject({ status: "pass", detail: `${join(dir, "namespace")}: shop` });
    expect(inCluster.applies!(context())).toBe(false);
  });

  it("passes a current ca.crt and fails an expired one", async () => {
    const dir = tempDir();
    const ctx = context({ serviceAccountDir: dir });
    const caCheck = async () => (await inCluster.run(ctx)).checks.find((c) => c.name === "ca.crt");
    writeFileSync(join(dir, "ca.crt"), makeCa({ commonName: "kubernetes" }).certPem);
    expect(await caCheck()).toMatchObject({ status: "pass", detail: expect.stringMatching(/CN=kubernetes, valid until /) });
    writeFileSync(join(dir, "ca.crt"), makeCa({ commonName: "kubernetes", notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }).certPem);
    expect(await caCheck()).toMatchObject({ status: "fail", detail: expect.stringMatching(/CN=kubernetes, expired .*: TLS to the API server cannot verify$/) });
  });

  it("renders a failing run with marks, fixes and a closing line naming the failed step", () => {
    const text = renderReport(
      {
        ok: false,
        context: "prod",
        startedAt: "2025-01-01T00:00:00.000Z",
        durationMs: 812,
        steps: [
          { step: 3, name: "network", status: "fail", durationMs: 5, checks: [{ name: "dns", status: "fail", detail: "lookup x: no such host", fix: "check the host name" }] },
          { step: 4, name: "TLS", status: "skip", durationMs: 0, checks: [{ name: "TLS", status: "skip", detail: "skipped: step 3 (network) failed" }] },
        ],
      },
      noColour,
    );
    expect(text).toBe(
      ["context prod", "", "✗  3. network", "     ✗ dns: lookup x: no such host", "         fix: check the host name", "-  4. TLS", "     - TLS: skipped: step 3 (network) failed", "", "step 3 (network) failed: dns: lookup x: no such host", ""].join("\n"),
    );
  });
});
