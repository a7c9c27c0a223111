// A transparent wire: HTTP/2 on both legs when both peers offer it, no silent queue behind a socket
// cap, a silently dead API server noticed by PING and its watches ended with an error row, and an
// upstream GOAWAY passed on to the HTTP/2 clients that rode that connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { stringify } from "yaml";
import { loadLocalCa } from "../src/tls/local-ca.js";
import { ensureStateDir } from "../src/tls/state-dir.js";
import { join } from "node:path";
import { Store } from "../src/store/store.js";
import http2 from "node:http2";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, kubectl, KUBECTL, record, recorded, ROOT, type World } from "./helpers/world.js";
import { startTestProxy, type TestProxy } from "./helpers/proxy.js";

const haveKubectl = existsSync(KUBECTL);

function h2client(p: TestProxy): http2.ClientHttp2Session {
  const session = http2.connect(p.proxy.url, { ca: p.caPem });
  session.on("error", () => undefined);
  return session;
}

/** Sends a request on an HTTP/2 session; resolves with the status once the response head arrives. */
function head(session: http2.ClientHttp2Session, p: TestProxy, path: string): Promise<{ status: number; stream: http2.ClientHttp2Stream }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path, authorization: `Bearer ${p.token}` });
    stream.once("response", (h) => resolve({ status: Number(h[":status"]), stream }));
    stream.once("error", reject);
  });
}

function body(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.setEncoding("utf8");
    stream.on("data", (d: string) => (text += d));
    stream.once("end", () => resolve(text));
    stream.once("error", reject);
  });
}

describe.skipIf(!haveKubectl)("HTTP/2 through kubewire", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  it("records h2 on both legs for kubectl against an API server that offers h2, and which requests shared a connection", async () => {
    const session: RecordingSession = await record(world, "demo-admin");
    try {
      const r = await kubectl(session.kubeconfigPath, ["get", "pods"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const rows = await recorded(session);
      const list = rows.find(({ row }) => row.verb === "list" && row.resource === "pods")!;
      expect(list.ex.protocol).toEqual({ client: "h2", upstream: "h2" });
      expect(list.ex.tls?.alpn).toBe("h2");
      expect(list.ex.tls?.chain.length).toBeGreaterThanOrEqual(1);
      // one kubectl run: one client connection and one upstream session, many streams on each
      const clients = new Set(rows.map(({ ex }) => ex.connection?.client.id));
      const upstreams = new Set(rows.map(({ ex }) => ex.connection?.upstream?.id));
      expect(clients.size).toBe(1);
      expect(upstreams.size).toBe(1);
      expect(new Set(rows.map(({ ex }) => ex.connection?.upstream?.stream)).size).toBe(rows.length);
    } finally {
      await session.stop(100);
    }
  });

  it("answers 300 concurrent watches and still answers kubectl get", async () => {
    const p = await startTestProxy(world);
    const client = h2client(p);
    try {
      // 300 streams on one client connection: more than one upstream session takes (250, Go's default)
      const watches = await Promise.all(Array.from({ length: 300 }, () => head(client, p, "/api/v1/namespaces/default/configmaps?watch=true")));
      expect(watches.map((w) => w.status)).toEqual(Array(300).fill(200));
      const r = await kubectl(p.kubeconfig, ["get", "pods"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      for (const w of watches) w.stream.close();
      await eventually(() => (p.exchanges.filter((e) => e.info.verb === "watch").length === 300 ? true : undefined), 20_000);
      const sessions = new Set(p.exchanges.filter((e) => e.info.verb === "watch").map((e) => e.connection?.upstream?.id));
      expect(sessions.size).toBeGreaterThanOrEqual(2);
    } finally {
      client.destroy();
      await p.close();
    }
  });

  it("answers 300 concurrent watches over HTTP/1.1 upstream connections without queueing any behind a socket cap", async () => {
    const h1 = await demoWorld({ http2: false });
    // 300 TLS handshakes at once on a busy machine: generous phase deadlines, this test is about queueing
    const p = await startTestProxy(h1, { connectTimeoutMs: 60_000, tlsTimeoutMs: 60_000 });
    const client = h2client(p);
    try {
      const watches = await Promise.all(Array.from({ length: 300 }, () => head(client, p, "/api/v1/namespaces/default/configmaps?watch=true")));
      expect(watches.map((w) => w.status)).toEqual(Array(300).fill(200));
      const r = await kubectl(p.kubeconfig, ["get", "pods"]);
      expect(r.code).toBe(0);
      for (const w of watches) w.stream.close();
      const recorded = await eventually(() => {
        const w = p.exchanges.filter((e) => e.info.verb === "watch");
        return w.length === 300 ? w : undefined;
      }, 20_000);
      expect(recorded.every((e) => e.protocol?.upstream === "http/1.1")).toBe(true);
      expect(new Set(recorded.map((e) => e.connection?.upstream?.id)).size).toBe(300);
    } finally {
      client.destroy();
      await p.close();
      await h1.close();
    }
  });

  it("passes an upstream GOAWAY on to the HTTP/2 client whose stream rode that session, and serves its next connection on a new session", async () => {
    const goaway = await demoWorld({ goawayChance: 1 });
    const p = await startTestProxy(goaway);
    try {
      const first = h2client(p);
      const told = new Promise<number>((resolve) => first.once("goaway", (code: number) => resolve(code)));
      const a = await head(first, p, "/api/v1/namespaces/default/pods");
      expect(a.status).toBe(200);
      expect(await body(a.stream)).toContain('"kind":"PodList"');
      expect(await told).toBe(http2.constants.NGHTTP2_NO_ERROR);
      const second = h2client(p);
      const b = await head(second, p, "/api/v1/namespaces/default/pods");
      expect(b.status).toBe(200);
      await body(b.stream);
      second.close();
      first.close();
      const lists = await eventually(() => (p.exchanges.length >= 2 ? p.exchanges : undefined));
      expect(lists.every((e) => e.error === null)).toBe(true);
      expect(lists[0].connection?.upstream?.id).not.toBe(lists[1].connection?.upstream?.id);
    } finally {
      await p.close();
      await goaway.close();
    }
  });

  it("passes the API server's HTTP/2 trailers on to an HTTP/2 client after the body, and records the response", async () => {
    // an API server that ends its answer with trailers (none of kube-apiserver's do; a server behind a gateway may)
    const local = loadLocalCa(ensureStateDir(join(world.dir, "trailers-upstream")));
    const upstream = http2.createSecureServer({ key: local.server.keyPem, cert: local.server.certPem });
    upstream.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/json" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "x-checksum": "c0ffee" }));
      stream.end('{"kind":"PodList","items":[]}');
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const kubeconfig = join(world.dir, "trailers.kubeconfig");
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "t", cluster: { server: `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`, "certificate-authority-data": Buffer.from(local.ca.certPem).toString("base64") } }],
        users: [{ name: "t", user: { token: "upstream-token" } }],
        contexts: [{ name: "t", context: { cluster: "t", user: "t" } }],
        "current-context": "t",
      }),
    );
    const p = await startTestProxy(world, {}, "t", kubeconfig);
    const client = h2client(p);
    try {
      const r = await head(client, p, "/api/v1/namespaces/default/pods");
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => r.stream.once("trailers", resolve));
      expect(r.status).toBe(200);
      expect(await body(r.stream)).toBe('{"kind":"PodList","items":[]}');
      expect((await trailers)["x-checksum"]).toBe("c0ffee");
      const ex = await eventually(() => p.exchanges[0]);
      expect(ex.protocol).toEqual({ client: "h2", upstream: "h2" });
      expect(ex.error).toBeNull();
      expect(ex.response?.status).toBe(200);
      expect(ex.response?.body?.data).toBe('{"kind":"PodList","items":[]}');
    } finally {
      client.close();
      await p.close();
      upstream.close();
    }
  });

  it("answers on an HTTP/2 stream what node:http2's compatibility layer answered: CONNECT 405, an unknown Expect 417, 100-continue a 100 and then the API server's answer", async () => {
    const p = await startTestProxy(world);
    const client = h2client(p);
    const ask = (headers: http2.OutgoingHttpHeaders, body?: string) =>
      new Promise<{ statuses: number[]; text: string }>((resolve, reject) => {
        const stream = client.request({ authorization: `Bearer ${p.token}`, ...headers }, { endStream: body === undefined });
        const statuses: number[] = [];
        let text = "";
        stream.on("headers", (h) => statuses.push(Number(h[":status"]))); // informational (1xx) heads
        stream.on("continue", () => stream.end(body));
        stream.once("response", (h) => statuses.push(Number(h[":status"])));
        stream.setEncoding("utf8");
        stream.on("data", (d: string) => (text += d));
        stream.once("close", () => resolve({ statuses, text }));
        stream.once("error", reject);
      });
    try {
      expect((await ask({ ":method": "CONNECT", ":authority": "example.com:443" })).statuses).toEqual([405]);
      expect((await ask({ ":method": "GET", ":path": "/api/v1/namespaces/default/pods", expect: "something-else" })).statuses).toEqual([417]);
      const body = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "continued" }, data: { a: "b" } });
      const created = await ask({ ":method": "POST", ":path": "/api/v1/namespaces/default/configmaps", "content-type": "application/json", expect: "100-continue" }, body);
      expect(created.statuses).toEqual([100, 201]);
      expect(created.text).toContain('"name":"continued"');
      const ex = await eventually(() => p.exchanges.find((e) => e.request.method === "POST"));
      expect(ex.response?.status).toBe(201);
      expect(ex.request.body?.data).toBe(body);
      // neither refused request reached the forwarder
      expect(p.exchanges).toHaveLength(1);
    } finally {
      client.close();
      await p.close();
    }
  });

  it("ends a kubectl watch on a frozen API server within the keepalive bound and records UPSTREAM_LOST", async () => {
    const frozen = await demoWorld({ freezable: true });
    const p = await startTestProxy(frozen, { keepaliveIdleMs: 500, keepaliveTimeoutMs: 500 });
    try {
      let out = "";
      const ended = new Promise<{ killed: boolean; stderr: string }>((resolve) => {
        const child = execFile(KUBECTL, ["--kubeconfig", p.kubeconfig, "--cache-dir", `${p.kubeconfig}.cache`, "get", "pods", "-w"], { timeout: 30_000 }, (err, _stdout, stderr) =>
          resolve({ killed: !!(err as { killed?: boolean } | null)?.killed, stderr: String(stderr) }),
        );
        child.stdout!.on("data", (d) => (out += d));
      });
      await eventually(() => (out.includes("web-1") ? true : undefined), 20_000);
      // a pod created now reaches kubectl only through the open watch: its stream is flowing when the cluster freezes
      expect((await kubectl(p.kubeconfig, ["run", "watch-probe", "--image=busybox"])).code).toBe(0);
      await eventually(() => (out.includes("watch-probe") ? true : undefined), 20_000);
      frozen.cluster.freeze();
      const r = await ended;
      expect(r.killed).toBe(false); // kubectl's watch ended on its own, well before the 30 s kill
      const watch = await eventually(() => p.exchanges.find((e) => e.info.verb === "watch"));
      expect(watch.error).toMatchObject({ code: "UPSTREAM_LOST", phase: "body" });
      expect(watch.response?.status).toBe(200);
      expect(watch.protocol).toEqual({ client: "h2", upstream: "h2" });
    } finally {
      await p.close();
      await frozen.close();
    }
  });

  it("takes --keepalive-idle and --keepalive-timeout on exec: a watch on a frozen API server ends with UPSTREAM_LOST", async () => {
    const frozen = await demoWorld({ freezable: true });
    const db = join(frozen.dir, "keepalive.db");
    try {
      let out = "";
      const args = [join(ROOT, "bin/kubewire.js"), "exec", "--kubeconfig", frozen.kubeconfig, "--context", "demo-admin", "--state-dir", join(frozen.dir, "state"), "--db", db, "--keepalive-idle", "500ms", "--keepalive-timeout", "500ms", "--", KUBECTL, "--cache-dir", join(frozen.dir, "cache"), "get", "pods", "-w"];
      const ended = new Promise<{ killed: boolean }>((resolve) => {
        const child = execFile(process.execPath, args, { timeout: 40_000 }, (err) => resolve({ killed: !!(err as { killed?: boolean } | null)?.killed }));
        child.stdout!.on("data", (d) => (out += d));
      });
      await eventually(() => (out.includes("web-1") ? true : undefined), 20_000);
      expect((await kubectl(frozen.kubeconfig, ["--context", "demo-admin", "run", "watch-probe", "--image=busybox"])).code).toBe(0);
      await eventually(() => (out.includes("watch-probe") ? true : undefined), 20_000); // the watch's stream is flowing
      frozen.cluster.freeze();
      expect((await ended).killed).toBe(false);
      const store = Store.open(db);
      const watch = store.list({}).map((r) => store.get(r.id)!).find((e) => e.info.verb === "watch");
      store.close();
      expect(watch?.error).toMatchObject({ code: "UPSTREAM_LOST", phase: "body" });
    } finally {
      await frozen.close();
    }
  });
});
