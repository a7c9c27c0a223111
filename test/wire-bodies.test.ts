// Bodies read as the client reads them: kubectl through kubewire to a cluster that gzips large
// answers, speaks protobuf, ends watches with 410 Expired and warns about deprecated APIs; what the
// recording then holds (decoded bodies, wire sizes, watch events by type) and what `ls`, `show` and `flags` say.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import { parse } from "yaml";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, kubectl, KUBECTL, kubewire, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);
const SECRET_VALUE = "hunter2-bundle-secret-value";

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One GET through the proxy with the generated kubeconfig's credentials and the given headers. */
function rawGet(kubeconfig: string, path: string, headers: Record<string, string>): Promise<Raw> {
  const cfg = parse(readFileSync(kubeconfig, "utf8"));
  const server = cfg.clusters[0].cluster.server;
  const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
  return new Promise((resolve, reject) => {
    https
      .get(`${server}${path}`, { ca, headers: { authorization: `Bearer ${cfg.users[0].user.token}`, ...headers }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });
}

/** The frames of a protobuf watch stream, read independently of kubewire's parser. */
function frames(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos + 4 <= body.length; ) {
    const len = body.readUInt32BE(pos);
    out.push(body.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return out;
}

describe.skipIf(!haveKubectl)("bodies through kubewire as the client reads them", () => {
  let world: World;
  let s: RecordingSession;
  const db = () => s.dbPath;

  beforeAll(async () => {
    world = await demoWorld({ bigListBytes: 600 * 1024 });
    s = await record(world, "demo-admin", { captureLimit: 4 * 1024 * 1024 });
  });
  afterAll(async () => {
    await s?.stop(100);
    await world?.close();
  });

  it("lists a gzipped 600 KiB list, records it decoded with its wire size, and show prints it readable", async () => {
    const r = await kubectl(s.kubeconfigPath, ["get", "configmaps", "-n", "big", "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).items.length).toBeGreaterThan(100);
    const { row, ex } = (await recorded(s)).find(({ row }) => row.verb === "list" && row.namespace === "big")!;
    expect(ex.response!.headers["content-encoding"]).toBe("gzip");
    expect(ex.response!.headers.vary).toBe("Accept-Encoding");
    expect(ex.response!.bytes).toBeGreaterThan(600 * 1024);
    expect(ex.response!.wireBytes).toBeLessThan(ex.response!.bytes / 5);
    expect(row.bytesOut).toBe(ex.response!.bytes);
    expect(ex.response!.body).toMatchObject({ encoding: "utf8", contentEncoding: "gzip", truncated: false });
    expect(JSON.parse(ex.response!.body!.data).kind).toBe("ConfigMapList");

    const shown = await kubewire(["show", String(row.id), "--db", db()]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('"kind": "ConfigMapList"');
    expect(shown.stdout).not.toContain("binary data");
    expect(shown.stdout).toMatch(/Response body \(\d+\.\dKiB, \d+\.\dKiB as gzip on the wire\)/);
  });

  it("counts a 5-frame protobuf watch as 5 events, by type", async () => {
    expect((await kubectl(s.kubeconfigPath, ["create", "namespace", "proto"])).code).toBe(0);
    for (const name of ["a", "b", "c"]) expect((await kubectl(s.kubeconfigPath, ["create", "configmap", name, "-n", "proto", "--from-literal=k=v"])).code).toBe(0);
    const r = await rawGet(s.kubeconfigPath, "/api/v1/namespaces/proto/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=1", {
      accept: "application/vnd.kubernetes.protobuf, application/json",
    });
    expect(r.headers["content-type"]).toBe("application/vnd.kubernetes.protobuf;stream=watch");
    expect(frames(r.body)).toHaveLength(5); // 3 ADDED, a bookmark after them, a bookmark before the timeout
    expect(r.body.includes(0x0a)).toBe(true); // newlines in the frames: counting lines would be wrong
    const watch = await eventually(async () => (await recorded(s)).find(({ row }) => row.verb === "watch" && row.namespace === "proto"));
    expect(watch.ex.stream).toMatchObject({ kind: "watch", events: 5, format: "protobuf", eventTypes: { ADDED: 3, BOOKMARK: 2 }, endedBy: "server" });
  });

  it("finds a watch that ended with 410 Expired by ls --status 410 and flags, and a client relisting after each 410 as a relist storm", async () => {
    const r = await kubectl(s.kubeconfigPath, ["get", "--raw", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=5"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
    const watch = await eventually(async () => (await recorded(s)).find(({ row }) => row.verb === "watch" && row.query.includes("resourceVersion=5")));
    expect(watch.row.status).toBe(200);
    expect(watch.ex.stream).toMatchObject({ events: 1, eventTypes: { ERROR: 1 }, lastError: { code: 410, reason: "Expired" } });
    expect(watch.ex.stream!.lastError!.message).toMatch(/^too old resource version: 5 \(\d+\)$/);

    const ls = await kubewire(["ls", "--status", "410", "--db", db(), "-o", "json"]);
    expect(ls.code).toBe(0);
    expect(JSON.parse(ls.stdout).map((x: { id: number }) => x.id)).toEqual([watch.row.id]);
    const shown = await kubewire(["show", String(watch.row.id), "--db", db()]);
    expect(shown.stdout).toContain("watch: 1 events (ERROR 1)");
    expect(shown.stdout).toContain("ended with an ERROR event: 410 Expired: too old resource version: 5");

    // a client that lists again each time its watch expires (namespace "expired" ends every watch with 410)
    const lists: number[] = [];
    for (let i = 0; i < 6; i++) {
      const list = await rawGet(s.kubeconfigPath, "/api/v1/namespaces/expired/configmaps", {});
      const rv = JSON.parse(list.body.toString()).metadata.resourceVersion;
      const w = await rawGet(s.kubeconfigPath, `/api/v1/namespaces/expired/configmaps?watch=true&resourceVersion=${rv}`, {});
      expect(JSON.parse(w.body.toString())).toMatchObject({ type: "ERROR", object: { code: 410 } });
    }
    const rows = await eventually(async () => {
      const all = await recorded(s);
      return all.filter(({ row }) => row.namespace === "expired").length === 12 ? all : undefined;
    });
    for (const { row } of rows) if (row.namespace === "expired" && row.verb === "list") lists.push(row.id);
    const flags = await kubewire(["flags", "--db", db(), "-o", "json"]);
    const findings = JSON.parse(flags.stdout) as Array<{ kind: string; requestIds: number[]; advice: string[] }>;
    const expired = findings.find((f) => f.kind === "watch-expired")!;
    expect(expired.requestIds).toContain(watch.row.id);
    expect(expired.requestIds).toHaveLength(7);
    expect(expired.advice.join(" ")).toMatch(/relist/);
    expect(expired.advice.join(" ")).toMatch(/allowWatchBookmarks/);
    expect(findings.find((f) => f.kind === "relist-storm")?.requestIds).toEqual(lists.slice(1)); // the first list follows no watch
  });

  it("flags the deprecated API kubectl was warned about, with the warning text", async () => {
    const r = await kubectl(s.kubeconfigPath, ["get", "componentstatuses"]);
    expect(r.stderr).toContain("Warning: v1 ComponentStatus is deprecated in v1.19+");
    const { row, ex } = (await recorded(s)).find(({ row }) => row.resource === "componentstatuses")!;
    expect(ex.response!.headers.warning).toEqual(['299 - "v1 ComponentStatus is deprecated in v1.19+"']);
    const shown = await kubewire(["show", String(row.id), "--db", db()]);
    expect(shown.stdout).toMatch(/Warnings from the API server\n {2}v1 ComponentStatus is deprecated in v1\.19\+\n/);
    const flags = await kubewire(["flags", "--db", db(), "-o", "json"]);
    const deprecated = JSON.parse(flags.stdout).find((f: { kind: string }) => f.kind === "deprecated-api");
    expect(deprecated.requestIds).toContain(row.id);
    expect(deprecated.evidence[0]).toContain('Warning: "v1 ComponentStatus is deprecated in v1.19+"');
  });

  it("leaves no recoverable value of a Secret embedded in a gzipped custom-resource list", async () => {
    const encoded = Buffer.from(SECRET_VALUE).toString("base64");
    const bundle = (i: number) => ({
      apiVersion: "demo.kubewire.dev/v1",
      kind: "Bundle",
      metadata: { name: `bundle-${i}` },
      spec: {
        padding: "p".repeat(50 * 1024),
        objects: [{ apiVersion: "v1", kind: "Secret", metadata: { name: `db-${i}` }, type: "Opaque", data: { password: encoded } }],
      },
    });
    const file = join(world.dir, "bundles.json");
    writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: [0, 1, 2, 3].map(bundle) }));
    expect((await kubectl(s.kubeconfigPath, ["create", "--validate=false", "-f", file])).code).toBe(0);
    const r = await kubectl(s.kubeconfigPath, ["get", "bundles", "-o", "json"]);
    expect(r.stdout).toContain(encoded); // the client got the real value
    const { ex } = (await recorded(s)).find(({ row }) => row.verb === "list" && row.resource === "bundles")!;
    expect(ex.response!.headers["content-encoding"]).toBe("gzip");
    expect(ex.response!.body).toMatchObject({ encoding: "utf8", contentEncoding: "gzip", truncated: false });
    const items = JSON.parse(ex.response!.body!.data).items;
    expect(items).toHaveLength(4);
    expect(items[0].spec.objects[0].data.password).toBe("[redacted]");
    await s.recorder.flush();
    for (const f of readdirSync(world.dir).filter((n) => n.startsWith("demo-admin.db"))) {
      const bytes = readFileSync(join(world.dir, f));
      expect(bytes.includes(encoded), f).toBe(false);
      expect(bytes.includes(SECRET_VALUE), f).toBe(false);
    }
  });
});
