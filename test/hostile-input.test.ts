// Hostile and odd input at the proxy's front door: no crash, bounded capture, every
// exchange still recorded, and the proxy keeps serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { parse } from "yaml";
import { Store } from "../src/store/store.js";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, record, type World } from "./helpers/world.js";

/** Sends raw bytes over TLS to the proxy and returns whatever comes back before the close. */
async function raw(session: RecordingSession, payload: string | ((token: string) => Buffer), waitMs = 1500): Promise<string> {
  const cfg = parse(readFileSync(session.kubeconfigPath, "utf8"));
  const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
  const socket = tls.connect({ host: "127.0.0.1", port: session.proxy.port, ca });
  await new Promise((r) => socket.once("secureConnect", r));
  let out = "";
  socket.on("data", (c: Buffer) => (out += c.toString("latin1")));
  socket.on("error", () => undefined);
  const token: string = cfg.users[0].user.token;
  socket.write(typeof payload === "string" ? payload.replaceAll("TOKEN", token) : payload(token));
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, waitMs);
    socket.once("close", () => {
      clearTimeout(t);
      resolve();
    });
  });
  socket.destroy();
  return out;
}

describe("hostile input", () => {
  let world: World;
  let s: RecordingSession;
  beforeAll(async () => {
    world = await demoWorld();
    s = await record(world, "demo-admin", { captureLimit: 1024 });
  });
  afterAll(async () => {
    await s?.stop(100);
    await world?.close();
  });

  async function last() {
    await s.recorder.flush();
    const store = Store.open(s.dbPath, { readonly: true });
    try {
      const rows = store.list({});
      return store.get(rows.at(-1)!.id)!;
    } finally {
      store.close();
    }
  }

  it("refuses a URL longer than the header limit with 431 and stays up", async () => {
    const answer = await raw(s, `GET /api/v1/namespaces/${"a".repeat(70_000)}/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(answer).toContain("kubewire: request headers too large");
    expect((await last()).error?.code).toBe("CLIENT_BAD_REQUEST");
    expect(await raw(s, "GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 200/);
  });

  it("forwards invalid percent-encoding as it came and records it", async () => {
    const answer = await raw(s, "GET /api/v1/namespaces/%zz/pods/%E0%A4%A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 \d{3}/);
    const ex = await last();
    expect(ex.request.path).toBe("/api/v1/namespaces/%zz/pods/%E0%A4%A");
    expect(ex.info.namespace).toBe("%zz");
  });

  it("answers an upgrade without the proxy token with a kubewire 401 Status and records it", async () => {
    const answer = await raw(s, "GET /api/v1/namespaces/default/pods/web-1/exec?command=sh HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(answer).toContain('"message":"kubewire: no credentials');
    const ex = await last();
    expect(ex.error?.code).toBe("PROXY_AUTH");
    expect(ex.info.subresource).toBe("exec");
    // kubewire answered, not the API server: no response, and the 401 kept as what the client was answered
    expect(ex.response).toBeNull();
    expect(ex.proxyAnswer?.status).toBe(401);
  });

  it("forwards an odd method and records it", async () => {
    const answer = await raw(s, "PROPFIND /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 \d{3}/);
    expect((await last()).request.method).toBe("PROPFIND");
  });

  it("captures at most the limit of a large non-UTF-8 body but counts every byte", async () => {
    const body = Buffer.alloc(300_000, 0xff);
    const head = (token: string) => `POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    await raw(s, (token) => Buffer.concat([Buffer.from(head(token)), body]));
    const ex = await last();
    expect(ex.request.bytes).toBe(body.length);
    expect(ex.request.body!.truncated).toBe(true);
    expect(ex.request.body!.encoding).toBe("base64");
    expect(Buffer.from(ex.request.body!.data, "base64").length).toBeLessThanOrEqual(1024);
  });

  it("records random bytes instead of a TLS handshake as a client TLS failure and stays up", async () => {
    const socket = net.connect(s.proxy.port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    socket.on("error", () => undefined);
    socket.write(Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    socket.destroy();
    const ex = await eventually(async () => {
      const e = await last();
      return e.error?.code === "CLIENT_TLS" ? e : undefined;
    });
    expect(ex.error?.message).toMatch(/^TLS handshake with the client failed/);
    expect(await raw(s, "GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 200/);
  });
});
