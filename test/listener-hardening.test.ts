// A local process that opens connections and never speaks TLS (or never sends the token) must not
// wedge the proxy: a handshake deadline ends them, nothing is kept after the peer leaves, a cap
// bounds how many may wait, and clients with the token are served all along.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { demoWorld, eventually, kubectl, KUBECTL, type World } from "./helpers/world.js";
import { startTestProxy, type TestProxy } from "./helpers/proxy.js";
import { holdPort } from "../src/session/held-port.js";

const haveKubectl = existsSync(KUBECTL);
const fds = () => readdirSync("/proc/self/fd").length;

/** Opens `n` TCP connections that never send a byte; resolves once all are connected. */
async function silent(port: number, n: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => resolve(s));
      s.on("error", () => undefined);
    })),
  );
}

/** Resolves once the other side has closed every one of these sockets. */
function closedByPeer(sockets: net.Socket[]): Promise<void> {
  return Promise.all(sockets.map((s) => (s.destroyed ? null : new Promise((r) => s.once("close", r))))).then(() => undefined);
}

function get(p: TestProxy, agent: https.Agent, path = "/api"): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port: p.proxy.port, path, agent, ca: p.caPem, headers: { authorization: `Bearer ${p.token}` } }, (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
      })
      .once("error", reject);
  });
}

describe.skipIf(!haveKubectl)("a listener no local process can wedge", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  it("on a port held for it (exec's), closes an idle HTTP/1.1 keep-alive connection at stop instead of waiting out the grace", async () => {
    const p = await startTestProxy(world, { listener: await holdPort("127.0.0.1", 0) });
    const agent = new https.Agent({ keepAlive: true });
    try {
      expect(await get(p, agent, "/version")).toBe(200);
      // the connection now sits idle in the agent: a stop with an hour's grace must still end at once
      // (the test's timeout fails it otherwise), as it does on a port the proxy listens on itself
      await p.proxy.close(3_600_000);
    } finally {
      agent.destroy();
    }
  });

  it("ends 200 silent connections at the handshake deadline, returns to its descriptor baseline once they close, and serves kubectl all along", async () => {
    const p = await startTestProxy(world, { handshakeTimeoutMs: 1000 });
    try {
      expect((await kubectl(p.kubeconfig, ["get", "pods"])).code).toBe(0);
      const baseline = fds();
      const sockets = await silent(p.proxy.port, 200);
      const during = await kubectl(p.kubeconfig, ["get", "pods"]);
      expect(during.stderr).toBe("");
      expect(during.code).toBe(0);
      // the proxy, not the client, ends them: the handshake deadline passed
      await closedByPeer(sockets);
      for (const s of sockets) s.destroy();
      await eventually(() => (fds() <= baseline ? true : undefined), 10_000);
      expect((await kubectl(p.kubeconfig, ["get", "pods"])).code).toBe(0);
      // a silent connection is no exchange
      expect(p.exchanges.filter((e) => e.error?.phase === "client")).toEqual([]);
    } finally {
      await p.close();
    }
  });

  it("releases connections that close before the deadline at once", async () => {
    const p = await startTestProxy(world, { handshakeTimeoutMs: 60_000 });
    try {
      expect((await kubectl(p.kubeconfig, ["get", "pods"])).code).toBe(0);
      const baseline = fds();
      const sockets = await silent(p.proxy.port, 200);
      expect(fds()).toBeGreaterThan(baseline + 200);
      for (const s of sockets) s.destroy();
      await eventually(() => (fds() <= baseline ? true : undefined), 10_000);
    } finally {
      await p.close();
    }
  });

  it("drops the longest-waiting connections beyond the cap of unauthenticated ones while clients with the token are served", async () => {
    const p = await startTestProxy(world, { handshakeTimeoutMs: 60_000, maxUnauthenticated: 20 });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(p, agent)).toBe(200); // proves the token on a kept-alive connection
      const sockets = await silent(p.proxy.port, 30);
      // the ten that came first are over the cap: the proxy closes them, the newer twenty wait for their deadline
      await closedByPeer(sockets.slice(0, 10));
      expect(sockets.slice(10).filter((s) => s.destroyed || s.readableEnded)).toEqual([]);
      expect(await get(p, agent)).toBe(200);
      // a new client arriving while the cap is full gets in and is served
      const fresh = await kubectl(p.kubeconfig, ["get", "pods"]);
      expect(fresh.stderr).toBe("");
      expect(fresh.code).toBe(0);
      for (const s of sockets) s.destroy();
    } finally {
      agent.destroy();
      await p.close();
    }
  });
});
