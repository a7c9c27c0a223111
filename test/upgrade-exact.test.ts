// Upgrades (exec, attach, port-forward) forwarded exactly: kubectl's exec with stdin every time, a
// refused upgrade shown as the API server wrote it, Connection: Upgrade requests answered without
// an upgrade redacted like any other, the WebSocket bearer protocol as proxy auth, deadlines, ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { RecordingSession } from "../src/session/recording-session.js";
import { upgradesReceived, parseFrames } from "../src/demo/exec.js";
import { loadKubeconfig } from "../src/kubeconfig/load.js";
import { endToEndResponseHeaders, forwardedRequestHeaders } from "../src/proxy/headers.js";
import { resolveUpstream } from "../src/kubeconfig/upstream.js";
import { exchangeSkeleton } from "../src/proxy/forward.js";
import { proxyUpgrade } from "../src/proxy/upgrade.js";
import { UpstreamAgent } from "../src/tls/upstream-agent.js";
import type { Exchange } from "../src/types.js";
import { demoWorld, eventually, kubectl, KUBECTL, record, recorded, run, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);

/** Sends raw bytes to kubewire over TLS and collects the answer until `done` says so or the server ends. */
function rawTls(s: RecordingSession, text: string | Buffer, done: (got: Buffer) => boolean = () => false, onSocket?: (raw: net.Socket, t: tls.TLSSocket) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(s.proxy.port, "127.0.0.1");
    const t = tls.connect({ socket: raw, servername: "localhost", ca: s.client.caPem });
    let got = Buffer.alloc(0);
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve(got);
    };
    t.once("secureConnect", () => {
      t.write(text);
      onSocket?.(raw, t);
    });
    t.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (done(got)) {
        finish();
        t.destroy();
      }
    });
    t.on("end", finish);
    t.on("close", finish);
    t.on("error", (err) => (got.length ? finish() : reject(err)));
  });
}

/** A masked client WebSocket frame. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

function splitHead(got: Buffer): { head: string; body: Buffer } {
  const at = got.indexOf("\r\n\r\n");
  return at === -1 ? { head: got.toString("latin1"), body: Buffer.alloc(0) } : { head: got.subarray(0, at).toString("latin1"), body: got.subarray(at + 4) };
}

function wsUpgrade(path: string, extra: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\n${extra}\r\n`;
}

describe.skipIf(!haveKubectl)("upgrades forwarded exactly", () => {
  let world: World;
  let s: RecordingSession;

  beforeAll(async () => {
    world = await demoWorld();
    s = await record(world, "demo-admin");
  });
  afterAll(async () => {
    await s?.stop(100);
    await world?.close();
  });

  it("runs `echo … | kubectl exec -i web-1 -- sh` twenty times out of twenty, every record without an error", async () => {
    const cache = `${world.dir}/exec-cache`;
    const once = () => run("sh", ["-c", `printf 'echo x\\n' | ${KUBECTL} --kubeconfig ${s.kubeconfigPath} --cache-dir ${cache} exec -i web-1 -- sh`]);
    const results = [];
    for (let round = 0; round < 5; round++) results.push(...(await Promise.all([once(), once(), once(), once()])));
    expect(results.map((r) => `${r.code} ${r.stdout}${r.stderr}`)).toEqual(Array(20).fill("0 x\n"));
    // each is recorded once both legs have closed, which may be just after kubectl exits
    const stdinRows = async () => (await recorded(s)).filter(({ ex }) => ex.info.subresource === "exec" && ex.request.query.includes("stdin=true"));
    const rows = await eventually(async () => ((await stdinRows()).length >= 20 ? stdinRows() : undefined));
    expect(rows).toHaveLength(20);
    for (const { ex } of rows) {
      expect(ex.response?.status).toBe(101);
      expect(ex.error).toBeNull();
      expect(ex.stream).toMatchObject({ kind: "upgrade" });
      expect(ex.stream!.bytesOut).toBeGreaterThan(0);
    }
  });

  it("shows the API server's Status for an exec into a missing container, exactly as direct", async () => {
    const direct = await kubectl(world.kubeconfig, ["exec", "web-1", "-c", "missing", "--", "sh"], { cacheDir: `${world.dir}/direct-cache` });
    const through = await kubectl(s.kubeconfigPath, ["exec", "web-1", "-c", "missing", "--", "sh"]);
    expect(direct.stderr).toBe("Error from server (BadRequest): container missing is not valid for pod web-1\n");
    expect(through.stderr).toBe(direct.stderr);
    expect(through.code).toBe(direct.code);
    const refused = await eventually(async () => {
      const rows = (await recorded(s)).filter(({ ex }) => ex.info.subresource === "exec" && ex.request.query.includes("container=missing"));
      return rows.length ? rows : undefined;
    });
    for (const { ex } of refused) {
      expect(ex.response?.status).toBe(400);
      expect(ex.error).toBeNull();
      expect(ex.response?.body?.data).toContain("container missing is not valid for pod web-1");
      expect(ex.response?.headers["transfer-encoding"]).toBe("chunked");
    }
  });

  it("re-frames a refused upgrade's chunked body for the client and drops the API server's hop-by-hop headers", async () => {
    const got = await rawTls(s, wsUpgrade("/api/v1/namespaces/default/pods/web-1/exec?command=sh&container=missing&stdout=true", `Authorization: Bearer ${s.client.token}\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n`));
    const { head, body } = splitHead(got);
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    const lines = head.toLowerCase().split("\r\n");
    expect(lines.filter((l) => l.startsWith("connection:"))).toEqual(["connection: close"]);
    expect(lines.filter((l) => l.startsWith("transfer-encoding:"))).toEqual(["transfer-encoding: chunked"]);
    // a chunked body, decoded by hand: size line, data, CRLF, then the last chunk
    const text = body.toString("utf8");
    const m = /^([0-9a-f]+)\r\n/.exec(text)!;
    const size = parseInt(m[1], 16);
    const data = Buffer.from(text.slice(m[0].length)).subarray(0, size).toString("utf8");
    expect(JSON.parse(data)).toMatchObject({ kind: "Status", code: 400, reason: "BadRequest", message: "container missing is not valid for pod web-1" });
    expect(text.endsWith("\r\n0\r\n\r\n")).toBe(true);
  });

  it("stores no Secret value from Connection: Upgrade requests the API server answers without upgrading", async () => {
    const value = `upgrade-secret-${randomBytes(6).toString("hex")}`;
    const created = await kubectl(world.kubeconfig, ["create", "secret", "generic", "upg-secret", `--from-literal=token=${value}`], { cacheDir: `${world.dir}/direct-cache` });
    expect(created.code).toBe(0);
    const auth = `Authorization: Bearer ${s.client.token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nAccept: application/json\r\n`;
    const got = await rawTls(s, `GET /api/v1/namespaces/default/secrets/upg-secret HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}\r\n`);
    const { head, body } = splitHead(got);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    // the client gets the Secret, framed so that it can read it
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? -1);
    const json = length >= 0 ? body.subarray(0, length).toString() : body.toString().replace(/^[0-9a-f]+\r\n/, "").replace(/\r\n0\r\n\r\n$/, "");
    expect(JSON.parse(json).data.token).toBe(Buffer.from(value).toString("base64"));
    // a request body on such a request is forwarded and redacted too
    const post = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "upg-posted" }, stringData: { token: value } });
    await rawTls(s, `POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(post)}\r\n\r\n${post}`);
    await s.recorder.flush();
    const rows = (await recorded(s)).filter(({ ex }) => ex.info.resource === "secrets" && ex.request.headers.upgrade === "websocket");
    expect(rows.map(({ ex }) => ex.request.method).sort()).toEqual(["GET", "POST"]);
    const posted = rows.find(({ ex }) => ex.request.method === "POST")!.ex;
    expect(posted.response).not.toBeNull();
    expect(posted.request.bytes).toBe(Buffer.byteLength(post));
    expect(posted.request.body?.data).toContain("upg-posted");
    // and a chunked one is read off the socket, de-chunked, and forwarded whole
    const half = Math.floor(post.length / 2);
    const chunks = [post.slice(0, half), post.slice(half)].map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join("");
    await rawTls(s, `POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    const chunked = await eventually(async () => (await recorded(s)).find(({ ex }) => ex.request.method === "POST" && ex.request.headers["transfer-encoding"] === "chunked" && ex.request.headers.upgrade === "websocket"));
    expect(chunked.ex.request.bytes).toBe(Buffer.byteLength(post));
    expect(chunked.ex.response).not.toBeNull();
    const forms = [value, Buffer.from(value).toString("base64"), Buffer.from(value).toString("base64url")];
    for (const file of [s.dbPath, `${s.dbPath}-wal`].filter(existsSync)) {
      const bytes = readFileSync(file).toString("latin1");
      for (const form of forms) expect(bytes.includes(form), `${form} in ${file}`).toBe(false);
    }
  });

  it("answers an Upgrade request whose chunked body is malformed with a kubewire 400 and records it as the client's error", async () => {
    const got = await rawTls(s, `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.client.token}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`);
    expect(splitHead(got).head).toMatch(/^HTTP\/1\.1 400 /);
    expect(splitHead(got).body.toString()).toContain("kubewire: malformed chunked request body");
    const { ex } = await eventually(async () => (await recorded(s)).find(({ ex }) => ex.info.resource === "configmaps" && ex.request.headers.upgrade === "websocket"));
    expect(ex.error).toMatchObject({ code: "CLIENT_BAD_REQUEST", phase: "client" });
  });

  it("accepts a WebSocket client that authenticates with the bearer protocol entry and never forwards the proxy token upstream", async () => {
    const entry = `base64url.bearer.authorization.k8s.io.${Buffer.from(s.client.token).toString("base64url")}`;
    const got = await rawTls(
      s,
      wsUpgrade("/api/v1/namespaces/default/pods/web-1/exec?command=echo&command=hi&stdout=true", `Sec-WebSocket-Protocol: ${entry}, v5.channel.k8s.io\r\n`),
      (b) => parseFrames(splitHead(b).body).frames.some((f) => f.opcode === 0x8),
    );
    const { head, body } = splitHead(got);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain("Sec-WebSocket-Protocol: v5.channel.k8s.io");
    const stdout = parseFrames(body).frames.filter((f) => f.opcode === 0x2 && f.payload[0] === 1).map((f) => f.payload.subarray(1).toString()).join("");
    expect(stdout).toBe("hi\n");
    const seen = upgradesReceived.at(-1)!;
    expect(seen.url).toContain("command=hi");
    const headers = seen.rawHeaders.join("\n");
    for (const form of [s.client.token, Buffer.from(s.client.token).toString("base64url"), "base64url.bearer"]) expect(headers).not.toContain(form);
    const value = (name: string) => seen.rawHeaders[seen.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === name) + 1];
    expect(value("authorization")).toBe(`Bearer ${world.cluster.users.admin.token}`);
    expect(value("sec-websocket-protocol")).toBe("v5.channel.k8s.io");

    const wrong = `base64url.bearer.authorization.k8s.io.${Buffer.from("not-the-token").toString("base64url")}`;
    const refused = await rawTls(s, wsUpgrade("/api/v1/namespaces/default/pods/web-1/exec?command=echo&command=hi&stdout=true", `Sec-WebSocket-Protocol: ${wrong}, v5.channel.k8s.io\r\n`));
    expect(splitHead(refused).head).toMatch(/^HTTP\/1\.1 401 /);
  });

  it("records a client that goes away with bytes from the API server still undelivered as an error", async () => {
    // The client sends 16 MiB (more than the kernel buffers between it and kubewire hold) to the echoing upstream without reading the echo, then resets:
    // what kubewire still holds for it can never be delivered.
    const payload = randomBytes(16 * 1024 * 1024);
    const request = `POST /api/v1/namespaces/default/pods/web-2/exec?command=undelivered HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.client.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`;
    await rawTls(s, request, () => false, (raw, t) => {
      t.once("data", () => {
        t.pause();
        t.write(payload, () => raw.resetAndDestroy());
      });
    });
    const { ex } = await eventually(async () => (await recorded(s)).find(({ ex }) => ex.request.query.includes("command=undelivered")));
    expect(ex.response?.status).toBe(101);
    expect(ex.error).toMatchObject({ code: "CLIENT_ABORTED", phase: "client" });
    expect(ex.error!.message).toMatch(/with \d+ bytes from the API server not delivered/);
    expect(ex.stream?.endedBy).toBe("client");
  });

  it("passes a client's half-close through and delivers everything the API server sends after it", async () => {
    const payload = randomBytes(1024 * 1024);
    const request = `POST /api/v1/namespaces/default/pods/web-1/exec?command=halfclose HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${s.client.token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`;
    const got = await rawTls(s, request, () => false, (_raw, t) => t.end(payload));
    const { head, body } = splitHead(got);
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(body.length).toBe(payload.length);
    expect(body.equals(payload)).toBe(true);
    const { ex } = await eventually(async () => (await recorded(s)).find(({ ex }) => ex.request.query.includes("command=halfclose")));
    expect(ex.error).toBeNull();
    expect(ex.stream).toMatchObject({ kind: "upgrade", endedBy: "client", bytesIn: payload.length, bytesOut: payload.length });
  });
});

describe("header rules for what kubewire forwards", () => {
  it.each([
    ["keeps the upgrade and drops the client's credentials and hop-by-hop headers", ["Connection", "keep-alive, Upgrade, X-Hop", "Upgrade", "websocket", "Authorization", "Bearer proxy", "X-Hop", "1", "Keep-Alive", "5", "Accept", "*/*"], true, ["Host", "h", "Connection", "Upgrade", "Upgrade", "websocket", "Accept", "*/*", "Authorization", "Bearer user"]],
    ["drops the bearer protocol entry and keeps the others", ["Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.dG9r, v5.channel.k8s.io"], true, ["Host", "h", "Sec-WebSocket-Protocol", "v5.channel.k8s.io", "Authorization", "Bearer user"]],
    ["drops a protocol header that held only the bearer entry", ["Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.dG9r"], true, ["Host", "h", "Authorization", "Bearer user"]],
    ["never forwards the replay marker", ["X-Kubewire-Replay-Of", "7", "Accept", "*/*"], false, ["Host", "h", "Accept", "*/*", "Authorization", "Bearer user"]],
    ["drops Connection and Upgrade from an ordinary request", ["Connection", "Upgrade", "Upgrade", "websocket"], false, ["Host", "h", "Authorization", "Bearer user"]],
  ])("%s", (_name, raw, upgrade, expected) => {
    expect(forwardedRequestHeaders(raw as string[], { Authorization: "Bearer user" }, "h", { upgrade: upgrade as boolean })).toEqual(expected);
  });

  it("leaves a refused upgrade's framing and connection headers for kubewire to write anew", () => {
    const raw = ["Content-Type", "application/json", "Transfer-Encoding", "chunked", "Connection", "close, X-Hop", "X-Hop", "1", "Content-Length", "5", "Audit-Id", "a"];
    expect(endToEndResponseHeaders(raw)).toEqual(["Content-Type", "application/json", "Audit-Id", "a"]);
  });
});

describe.skipIf(!haveKubectl)("an upgrade the API server never answers", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  it("is answered with a kubewire 502 once the response-header deadline passes, and recorded as ETIMEDOUT", async () => {
    const upstream = await resolveUpstream(loadKubeconfig({ kubeconfig: world.kubeconfig, context: "demo-admin" }));
    const agent = new UpstreamAgent({ tls: upstream.tls, proxyUrl: upstream.proxyUrl });
    const credentials = await upstream.headers();
    const records: Exchange[] = [];
    const front = http.createServer();
    front.on("upgrade", (req, socket, head) => {
      const exchange = exchangeSkeleton(req.method ?? "GET", req.url ?? "/", req.headers, req.socket.remoteAddress ?? "", upstream, Date.now());
      proxyUpgrade({ upstream, agent, sink: { record: (e) => records.push(e) }, track: () => undefined }, req, socket, head, credentials, exchange, performance.now(), { headersTimeoutMs: 300 });
    });
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    try {
      // the demo never answers anything in namespace "hang"
      const answer = await new Promise<string>((resolve) => {
        const c = net.connect((front.address() as AddressInfo).port, "127.0.0.1", () => c.write(`GET /api/v1/namespaces/hang/pods HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`));
        let text = "";
        c.on("data", (d: Buffer) => (text += d.toString()));
        c.on("close", () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 502 /);
      expect(answer).toContain("the API server sent no response headers within 300 ms");
      expect(records).toHaveLength(1);
      expect(records[0].error).toMatchObject({ code: "ETIMEDOUT", phase: "headers" });
      expect(records[0].response).toBeNull();
      expect(records[0].proxyAnswer?.status).toBe(502);
    } finally {
      front.close();
      agent.destroy();
    }
  });
});
