// A user shares a recording: `kubewire export --har` gives a file that validates against the
// HAR 1.2 schema and re-imports to the same exchanges; `--jsonl` is the show -o json shape;
// `kubewire import --har` takes a browser's HAR, redacts it, and its requests can be replayed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Store } from "../src/store/store.js";
import type { Exchange } from "../src/types.js";
import { demoWorld, kubectl, KUBECTL, kubewire, record, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
if (!haveKubectl) console.warn(`\n*** kubectl not found at ${KUBECTL}: the export tests are SKIPPED ***\n`);

/** The HAR 1.2 JSON schema (har-schema, the schema har-validator used) checked by ajv with formats. */
function harValidator() {
  const require = createRequire(import.meta.url);
  const Ajv = require("ajv");
  const addFormats = require("ajv-formats");
  const schemas = require("har-schema") as Record<string, object>;
  const ajv = new Ajv({ allErrors: true, strict: "log", logger: false });
  ajv.addMetaSchema(require("ajv/dist/refs/json-schema-draft-06.json"));
  ajv.addVocabulary(["optional", "min"]); // har-schema's own annotations
  addFormats(ajv);
  for (const [name, schema] of Object.entries(schemas)) if (name !== "har") ajv.addSchema(schema);
  return ajv.compile(schemas.har) as ((data: unknown) => boolean) & { errors: unknown };
}

function exchanges(db: string): Exchange[] {
  const s = Store.open(db, { readonly: true });
  try {
    return [...s.iterate()];
  } finally {
    s.close();
  }
}

/** What an import cannot keep: the database's own ids and where the rows came from. */
function portable(ex: Exchange) {
  const { id: _id, origin: _origin, replayOf: _replayOf, ...rest } = ex;
  return rest;
}

describe.skipIf(!haveKubectl)("kubewire export and import", () => {
  let world: World;
  let db: string;
  let state: string;

  beforeAll(async () => {
    world = await demoWorld();
    db = join(world.dir, "recording.db");
    state = join(world.dir, "state");
    const admin = await record(world, "demo-admin", { db });
    await kubectl(admin.kubeconfigPath, ["get", "pods"]);
    await kubectl(admin.kubeconfigPath, ["create", "secret", "generic", "s3cret", "--from-literal=password=hunter2", "--validate=false"]);
    await admin.stop(100);
    const viewer = await record(world, "demo-viewer", { db });
    await kubectl(viewer.kubeconfigPath, ["get", "pods", "-n", "kube-system"]);
    await viewer.stop(100);
    const expired = await record(world, "demo-expired-cert", { db });
    await kubectl(expired.kubeconfigPath, ["get", "--raw", "/version", "--request-timeout=5s"]);
    await expired.stop(100);
  });
  afterAll(async () => {
    await world?.close();
  });

  it("writes a HAR 1.2 file that validates against the HAR schema", async () => {
    const file = join(world.dir, "all.har");
    const r = await kubewire(["export", "--har", file, "--db", db]);
    expect(r.code).toBe(0);
    const all = exchanges(db);
    expect(r.stderr).toBe(`kubewire: exported ${all.length} exchanges to ${file}\n`);
    const har = JSON.parse(readFileSync(file, "utf8"));
    const validate = harValidator();
    expect(validate(har), JSON.stringify(validate.errors)).toBe(true);
    expect(har.log.version).toBe("1.2");
    expect(har.log.creator.name).toBe("kubewire");
    expect(har.log.entries).toHaveLength(all.length);
    const list = har.log.entries.find((e: any) => e.request.url.endsWith("/api/v1/namespaces/default/pods?limit=500"));
    expect(list.request.method).toBe("GET");
    expect(list.request.queryString).toEqual([{ name: "limit", value: "500" }]);
    expect(list.response.status).toBe(200);
    expect(list.response.statusText).toBe("OK");
    expect(list.response.content.mimeType).toBe("application/json");
    expect(JSON.parse(list.response.content.text).kind).toBe("Table");
    const failed = har.log.entries.find((e: any) => e._kubewire.error?.code === "CERT_HAS_EXPIRED");
    // no response, as mitmproxy writes a flow without one: status 0 and the error; kubewire's own 502 kept apart
    expect(failed.response.status).toBe(0);
    expect(failed.response._error).toMatch(/^CERT_HAS_EXPIRED: /);
    expect(failed.comment).toMatch(/^CERT_HAS_EXPIRED \(tls\): .*; kubewire answered the client 502$/);
    expect(failed._kubewire.proxyAnswer.status).toBe(502);
    expect(failed._kubewire.proxyAnswer.body.data).toMatch(/^kubewire: cannot reach the API server .*x509: certificate has expired/);
    // the validator is no rubber stamp: it rejects what a broken export would contain
    const { request: _request, ...noRequest } = list;
    for (const bad of [{ ...list, startedDateTime: "yesterday" }, noRequest, { ...list, response: { ...list.response, status: "200" } }]) {
      expect(validate({ log: { ...har.log, entries: [bad] } })).toBe(false);
    }
  });

  it("maps the recorded phases to HAR timings (dns, connect with ssl inside, ssl, wait, receive)", async () => {
    const file = join(world.dir, "timings.har");
    expect((await kubewire(["export", "--har", file, "--db", db])).code).toBe(0);
    const entries = JSON.parse(readFileSync(file, "utf8")).log.entries;
    const fresh = entries.find((e: any) => !e._kubewire.timing.reusedConnection && e._kubewire.timing.tlsMs > 0 && e.response.status > 0);
    const t = fresh._kubewire.timing;
    const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(0.01);
    close(fresh.timings.dns, t.dnsMs);
    close(fresh.timings.connect, t.connectMs + t.tlsMs);
    close(fresh.timings.ssl, t.tlsMs);
    close(fresh.timings.dns + fresh.timings.connect + fresh.timings.wait, t.ttfbMs);
    close(fresh.timings.receive, t.totalMs - t.ttfbMs);
    close(fresh.time, t.totalMs);
    const reused = entries.find((e: any) => e._kubewire.timing.reusedConnection);
    expect(reused.timings).toMatchObject({ dns: -1, connect: -1, ssl: -1, send: 0 });
  });

  it("keeps credentials out of the HAR: tokens and secret values never appear", async () => {
    const file = join(world.dir, "secrets.har");
    expect((await kubewire(["export", "--har", file, "--db", db])).code).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(world.cluster.users.admin.token!);
    expect(text).not.toContain(world.cluster.users.viewer.token!);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain(Buffer.from("hunter2").toString("base64"));
    const entries = JSON.parse(text).log.entries;
    const auth = entries.flatMap((e: any) => e.request.headers).filter((h: any) => h.name === "authorization");
    expect(auth.length).toBeGreaterThan(0);
    for (const h of auth) expect(h.value).toBe("Bearer [redacted]");
  });

  it("re-imports an exported HAR to the same exchanges", async () => {
    const file = join(world.dir, "round.har");
    const copy = join(world.dir, "copy.db");
    expect((await kubewire(["export", "--har", file, "--db", db])).code).toBe(0);
    const r = await kubewire(["import", "--har", file, "--db", copy]);
    const original = exchanges(db);
    expect(r.stdout).toMatch(new RegExp(`^imported ${original.length} exchanges as IDs 1-${original.length} \\(\\d+ Kubernetes API requests\\) into `));
    expect(r.code).toBe(0);
    const imported = exchanges(copy);
    expect(imported.map((ex) => ex.origin)).toEqual(original.map(() => "import"));
    expect(imported.map(portable)).toEqual(original.map(portable));
    // each exchange keeps where it was recorded: the three recording runs, not "import"
    expect(new Set(imported.map((ex) => ex.source?.run)).size).toBe(3);
    expect(imported.every((ex) => ex.source?.host && ex.source.host !== "import")).toBe(true);
  });

  it("exports a filtered selection only", async () => {
    const file = join(world.dir, "forbidden.har");
    const r = await kubewire(["export", "--har", file, "--status", "403", "--db", db]);
    expect(r.stderr).toBe(`kubewire: exported 1 exchange to ${file}\n`);
    const [entry] = JSON.parse(readFileSync(file, "utf8")).log.entries;
    expect(entry.response.status).toBe(403);
    expect(entry.request.url).toMatch(/\/api\/v1\/namespaces\/kube-system\/pods\?limit=500$/);
  });

  it("exports JSON Lines, one exchange per line in the show -o json shape", async () => {
    const r = await kubewire(["export", "--jsonl", "-", "--db", db]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(exchanges(db).length);
    const show = await kubewire(["show", String(lines[0].id), "-o", "json", "--db", db]);
    expect(lines[0]).toEqual(JSON.parse(show.stdout));
  });

  it("imports a browser's HAR: credentials redacted, request info derived, a request without answer kept as its error", async () => {
    const file = join(world.dir, "browser.har");
    const copy = join(world.dir, "browser.db");
    writeFileSync(file, JSON.stringify(browserHar(world.cluster.url)));
    const r = await kubewire(["import", "--har", file, "--db", copy]);
    expect(r.stdout).toMatch(/^imported 3 exchanges as IDs 1-3 \(2 Kubernetes API requests\) into /);
    const [list, refused, page] = exchanges(copy);
    expect(list.info).toMatchObject({ verb: "list", resource: "pods", namespace: "kube-system" });
    expect(list.response?.status).toBe(403);
    expect(list.request.headers.authorization).toBe("Bearer [redacted]");
    expect(list.request.headers.cookie).toBe("[redacted]");
    expect(list.timing).toMatchObject({ dnsMs: 1, connectMs: 2, tlsMs: 3, ttfbMs: 16, totalMs: 20 });
    expect(readFileSync(copy).includes("s3cr3t-token")).toBe(false);
    expect(refused.response).toBeNull();
    expect(refused.error).toEqual({ code: "NO_RESPONSE", message: "net::ERR_CERT_DATE_INVALID" });
    expect(page.info.isResourceRequest).toBe(false);
    // a HAR from elsewhere says nothing of where it was recorded
    for (const ex of [list, refused, page]) expect(ex.source).toEqual({ host: "import" });
  });

  it("replays an imported request against the cluster with the admin context", async () => {
    const file = join(world.dir, "browser2.har");
    const copy = join(world.dir, "browser2.db");
    writeFileSync(file, JSON.stringify(browserHar(world.cluster.url)));
    expect((await kubewire(["import", "--har", file, "--db", copy])).code).toBe(0);
    const r = await kubewire(["replay", "1", "--context", "demo-admin", "--kubeconfig", world.kubeconfig, "--db", copy, "--state-dir", state]);
    expect(r.stdout).toMatch(/status {3}403 → 200 {3}now succeeds/);
    expect(r.code).toBe(0);
  });

  it("rejects bad input with one line naming the problem and exit 2", async () => {
    writeFileSync(join(world.dir, "notjson"), "<html>");
    writeFileSync(join(world.dir, "nothar"), '{"entries": []}');
    const cases: [string[], string][] = [
      [["export", "--db", db], "error: choose one output: --har FILE or --jsonl FILE"],
      [["export", "--har", "a.har", "--jsonl", "b.jsonl", "--db", db], "error: choose one output: --har FILE or --jsonl FILE"],
      [["import", "--har", join(world.dir, "notjson"), "--db", join(world.dir, "new.db")], "is not JSON"],
      [["import", "--har", join(world.dir, "nothar"), "--db", join(world.dir, "new.db")], "is not a HAR file: it has no log.entries list"],
    ];
    const runs = await Promise.all(cases.map(([args]) => kubewire(args)));
    runs.forEach((r, i) => {
      expect(r.stderr).toContain(cases[i][1]);
      expect(r.stderr.trim().split("\n")[0]).toMatch(/^error: /);
      expect(r.code).toBe(2);
    });
  });
});

/** A HAR as Chrome devtools saves it (HTTP/2 pseudo-headers, cookies, _fields), aimed at the demo cluster. */
function browserHar(clusterUrl: string) {
  const entry = (url: string, status: number, extra: Record<string, unknown> = {}) => ({
    _initiator: { type: "other" },
    _priority: "High",
    _resourceType: "fetch",
    cache: {},
    connection: "443",
    request: {
      method: "GET",
      url,
      httpVersion: "http/2.0",
      headers: [
        { name: ":authority", value: "cluster.example" },
        { name: "Authorization", value: "Bearer s3cr3t-token" },
        { name: "Cookie", value: "session=s3cr3t-token" },
        { name: "Accept", value: "application/json" },
      ],
      queryString: [{ name: "limit", value: "500" }],
      cookies: [{ name: "session", value: "s3cr3t-token" }],
      headersSize: -1,
      bodySize: 0,
    },
    response: {
      status,
      statusText: status ? "Forbidden" : "",
      httpVersion: "http/2.0",
      headers: status ? [{ name: "content-type", value: "application/json" }] : [],
      cookies: [],
      content: status ? { size: 20, mimeType: "application/json", text: '{"kind":"Status","code":403}' } : { size: 0, mimeType: "x-unknown" },
      redirectURL: "",
      headersSize: -1,
      bodySize: status ? 20 : -1,
      _transferSize: 300,
      ...extra,
    },
    serverIPAddress: "127.0.0.1",
    startedDateTime: "2025-01-15T10:00:00.000Z",
    time: 20,
    timings: { blocked: 0, dns: 1, ssl: 3, connect: 5, send: 0, wait: 10, receive: 4, _blocked_queueing: 0.5 },
  });
  return {
    log: {
      version: "1.2",
      creator: { name: "WebInspector", version: "537.36" },
      pages: [],
      entries: [
        entry(`${clusterUrl}/api/v1/namespaces/kube-system/pods?limit=500`, 403),
        entry(`${clusterUrl}/api/v1/namespaces/default/pods?limit=500`, 0, { _error: "net::ERR_CERT_DATE_INVALID" }),
        entry("https://example.com/index.html", 200),
      ],
    },
  };
}
