// Every credential kind a kubeconfig can hold reaches the API server through kubewire,
// and clients without the proxy's token or trust are turned away and recorded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { CoreV1Api, KubeConfig, Watch } from "@kubernetes/client-node";
import type { RecordingSession } from "../src/session/recording-session.js";
import { demoWorld, eventually, kubectl, KUBECTL, record, recorded, type World } from "./helpers/world.js";

const haveKubectl = existsSync(KUBECTL);


/** A copy of the demo kubeconfig whose demo-admin user is replaced by `user`. */
function variant(world: World, name: string, user: Record<string, unknown>): string {
  const config = parse(readFileSync(world.kubeconfig, "utf8"));
  config.users.push({ name, user });
  config.contexts.push({ name, context: { cluster: config.contexts.find((c: { name: string }) => c.name === "demo-admin").context.cluster, user: name, namespace: "default" } });
  config["current-context"] = name;
  const file = join(world.dir, `${name}.kubeconfig`);
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

function clientNode(kubeconfig: string): { kc: KubeConfig; core: CoreV1Api } {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api) };
}

describe("credential kinds", () => {
  let world: World;
  beforeAll(async () => {
    world = await demoWorld({ bigListBytes: 20 * 1024 * 1024 });
  });
  afterAll(async () => world?.close());

  it.each([
    ["a bearer token", "demo-admin"],
    ["a client certificate", "demo-cert"],
    ["basic auth", "demo-basic"],
    ["an oidc auth-provider ID token", "demo-oidc"],
  ])("forwards %s and @kubernetes/client-node lists pods", async (_kind, context) => {
    const s = await record(world, context);
    try {
      const pods = await clientNode(s.kubeconfigPath).core.listNamespacedPod({ namespace: "default" });
      expect(pods.items.map((p) => p.metadata?.name)).toContain("web-1");
      const [{ row, ex }] = await recorded(s);
      expect(row).toMatchObject({ verb: "list", resource: "pods", status: 200 });
      expect(ex.kubeUser).toBe(context === "demo-admin" ? "demo-admin" : context);
    } finally {
      await s.stop(100);
    }
  });

  it.skipIf(!haveKubectl)("lets kubectl through with the credentials of an oidc auth-provider, as without kubewire", async () => {
    const s = await record(world, "demo-oidc", { db: join(world.dir, "oidc.db") });
    try {
      expect(s.upstream.authMethod).toBe("auth-provider");
      const through = await kubectl(s.kubeconfigPath, ["auth", "whoami"]);
      const direct = await kubectl(world.kubeconfig, ["--context", "demo-oidc", "auth", "whoami"]);
      expect(through.stdout).toContain("alice@example.com");
      expect(through.stdout).toBe(direct.stdout);
    } finally {
      await s.stop(100);
    }
  });

  it("reads a tokenFile (client-go's spelling), a token-file (client-node's) and an exec credential plugin as kubectl does", async () => {
    const tokenFile = join(world.dir, "token");
    writeFileSync(tokenFile, world.cluster.users.admin.token!);
    const plugin = join(world.dir, "credential-plugin.sh");
    writeFileSync(
      plugin,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${world.cluster.users.admin.token}"}}'\n`,
    );
    chmodSync(plugin, 0o755);
    for (const [name, user] of [
      ["token-file-user", { "token-file": tokenFile }],
      ["tokenfile-user", { tokenFile }],
      ["exec-user", { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } }],
    ] as const) {
      const file = variant(world, name, user);
      const s = await record({ ...world, kubeconfig: file }, name);
      try {
        const pods = await clientNode(s.kubeconfigPath).core.listNamespacedPod({ namespace: "default" });
        expect(pods.items.length).toBeGreaterThan(0);
        expect(s.upstream.authMethod).toBe(name === "exec-user" ? "exec" : "token-file");
        if (name === "tokenfile-user") expect((await kubectl(s.kubeconfigPath, ["get", "pods"])).code).toBe(0);
      } finally {
        await s.stop(100);
      }
    }
  });

  it.each([
    ["tls-server-name names what the wrong-SAN certificate is valid for", "demo-wrong-san", { "tls-server-name": "kubernetes.default.svc" }],
    ["insecure-skip-tls-verify lets the unknown-CA certificate through", "demo-unknown-ca", { "insecure-skip-tls-verify": true, "certificate-authority-data": undefined }],
    ["certificate-authority as a file (relative to the kubeconfig) is read", "demo-expired-cert", { server: "ADMIN_SERVER", "certificate-authority-data": undefined, "certificate-authority": "ca.crt" }],
  ])("verifies upstream as the kubeconfig says: %s", async (_what, context, patch) => {
    const config = parse(readFileSync(world.kubeconfig, "utf8"));
    const entry = config.clusters.find((c: { name: string }) => c.name === context).cluster;
    writeFileSync(join(world.dir, "ca.crt"), world.cluster.caPem);
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) delete entry[k];
      else entry[k] = v === "ADMIN_SERVER" ? world.cluster.url : v;
    }
    const file = join(world.dir, `${context}-patched.kubeconfig`);
    writeFileSync(file, stringify(config));
    const s = await record({ ...world, kubeconfig: file }, context, { db: join(world.dir, `${context}-patched.db`) });
    try {
      const pods = await clientNode(s.kubeconfigPath).core.listNamespacedPod({ namespace: "default" });
      expect(pods.items.length).toBeGreaterThan(0);
      const [{ ex }] = await recorded(s);
      expect(ex.error).toBeNull();
      expect(ex.tls?.chain[0].subject).toContain("CN=");
    } finally {
      await s.stop(100);
    }
  });

  it("tunnels through the kubeconfig's proxy-url with HTTP CONNECT", async () => {
    const tunnels: string[] = [];
    const forward = net.createServer((client) => {
      client.once("data", (head: Buffer) => {
        const m = /^CONNECT (\S+):(\d+) HTTP/.exec(head.toString("latin1"));
        if (!m) return client.destroy();
        tunnels.push(`${m[1]}:${m[2]}`);
        const upstream = net.connect(Number(m[2]), m[1], () => {
          client.write("HTTP/1.1 200 Connection established\r\n\r\n");
          client.pipe(upstream).pipe(client);
        });
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
      });
    });
    await new Promise<void>((r) => forward.listen(0, "127.0.0.1", () => r()));
    try {
      const config = parse(readFileSync(world.kubeconfig, "utf8"));
      const admin = config.contexts.find((c: { name: string }) => c.name === "demo-admin").context.cluster;
      config.clusters.find((c: { name: string }) => c.name === admin).cluster["proxy-url"] = `http://127.0.0.1:${(forward.address() as net.AddressInfo).port}`;
      const file = join(world.dir, "proxy-url.kubeconfig");
      writeFileSync(file, stringify(config));
      const s = await record({ ...world, kubeconfig: file }, "demo-admin", { db: join(world.dir, "proxy-url.db") });
      try {
        const pods = await clientNode(s.kubeconfigPath).core.listNamespacedPod({ namespace: "default" });
        expect(pods.items.length).toBeGreaterThan(0);
        expect(tunnels).toEqual([new URL(world.cluster.url).host]);
        const [{ ex }] = await recorded(s);
        expect(ex.tls?.chain.length).toBeGreaterThan(0);
      } finally {
        await s.stop(100);
      }
    } finally {
      forward.close();
    }
  });

  it("streams a watch and records its events", async () => {
    const s = await record(world, "demo-admin");
    try {
      const { kc, core } = clientNode(s.kubeconfigPath);
      const seen: string[] = [];
      const req = await new Watch(kc).watch("/api/v1/namespaces/default/configmaps", {}, (type, obj) => seen.push(`${type} ${obj.metadata?.name}`), () => undefined);
      await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "watched" }, data: { a: "1" } } });
      for (let i = 0; i < 50 && !seen.includes("ADDED watched"); i++) await new Promise((r) => setTimeout(r, 50));
      req.abort();
      expect(seen).toContain("ADDED watched");
      const watch = await eventually(async () => (await recorded(s)).find(({ row }) => row.verb === "watch"));
      expect(watch.ex.stream?.kind).toBe("watch");
      expect(watch.ex.stream!.events).toBeGreaterThanOrEqual(seen.length);
      expect(watch.ex.stream!.endedBy).toBe("client");
      expect(watch.row.error).toBeNull();
    } finally {
      await s.stop(100);
    }
  });

  it("streams a 20 MB list without holding it, recording every byte and a bounded capture", async () => {
    const s = await record(world, "demo-admin");
    try {
      const { kc } = clientNode(s.kubeconfigPath);
      const opts: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      const url = new URL(`${kc.getCurrentCluster()!.server}/api/v1/namespaces/big/configmaps`);
      const received = await new Promise<number>((resolve, reject) => {
        https
          .get(url, { ...opts, headers: { ...(opts.headers as object), accept: "application/json" } }, (res) => {
            let n = 0;
            res.on("data", (c: Buffer) => (n += c.length));
            res.on("end", () => resolve(n));
          })
          .on("error", reject);
      });
      expect(received).toBeGreaterThanOrEqual(20 * 1024 * 1024);
      const { ex } = (await recorded(s)).find(({ row }) => row.namespace === "big")!;
      expect(ex.response!.bytes).toBe(received);
      expect(ex.response!.body!.truncated).toBe(true);
      expect(ex.response!.body!.data.length).toBeLessThanOrEqual(64 * 1024);
    } finally {
      await s.stop(100);
    }
  });

  it("proxies an SPDY/3.1 upgrade byte for byte in both directions", async () => {
    const s = await record(world, "demo-admin");
    try {
      const cfg = parse(readFileSync(s.kubeconfigPath, "utf8"));
      const token = cfg.users[0].user.token;
      const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
      const socket = tls.connect({ host: "127.0.0.1", port: s.proxy.port, ca });
      await new Promise((r) => socket.once("secureConnect", r));
      socket.write(
        `POST /api/v1/namespaces/default/pods/web-1/exec?command=sh HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`,
      );
      let text = "";
      socket.on("data", (c: Buffer) => (text += c.toString("latin1")));
      for (let i = 0; i < 40 && !text.includes("\r\n\r\n"); i++) await new Promise((r) => setTimeout(r, 25));
      expect(text).toMatch(/^HTTP\/1\.1 101/);
      expect(text.toLowerCase()).toContain("upgrade: spdy/3.1");
      const payload = "\x80\x03\x00\x01binary frame \xff\x00";
      text = "";
      socket.write(Buffer.from(payload, "latin1"));
      for (let i = 0; i < 40 && text.length < payload.length; i++) await new Promise((r) => setTimeout(r, 25));
      expect(text).toBe(payload);
      socket.end();
      const { ex } = await eventually(async () => (await recorded(s)).find(({ row }) => row.subresource === "exec"));
      expect(ex.response?.status).toBe(101);
      expect(ex.stream).toMatchObject({ kind: "upgrade", endedBy: "client" });
      expect(ex.stream!.bytesIn).toBeGreaterThanOrEqual(payload.length);
      expect(ex.stream!.bytesOut).toBeGreaterThanOrEqual(payload.length);
    } finally {
      await s.stop(100);
    }
  });
});

describe.skipIf(!haveKubectl)("clients kubewire turns away", () => {
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

  it("answers a client with the wrong token with a kubewire 401 that kubectl shows, recorded as proxy-auth", async () => {
    const cfg = parse(readFileSync(s.kubeconfigPath, "utf8"));
    cfg.users[0].user.token = "not-the-proxy-token";
    const wrong = join(world.dir, "wrong-token.kubeconfig");
    writeFileSync(wrong, stringify(cfg));
    const r = await kubectl(wrong, ["get", "--raw", "/api/v1/namespaces/default/pods"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("kubewire: wrong proxy token");
    const all = await recorded(s);
    expect(all.at(-1)!.row.error?.code).toBe("PROXY_AUTH");
    expect(all.at(-1)!.row.status).toBeNull(); // kubewire answered, not the API server
    expect(all.at(-1)!.ex.proxyAnswer?.status).toBe(401);
    expect(JSON.stringify(all.at(-1)!.ex)).not.toContain("not-the-proxy-token");
  });

  it("answers a request with no credentials at all with a kubewire 401", async () => {
    const cfg = parse(readFileSync(s.kubeconfigPath, "utf8"));
    const ca = Buffer.from(cfg.clusters[0].cluster["certificate-authority-data"], "base64");
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      https
        .get(`${s.proxy.url}/api/v1/namespaces/default/pods`, { ca }, (res) => {
          let b = "";
          res.on("data", (c) => (b += c));
          res.on("end", () => resolve({ status: res.statusCode!, body: b }));
        })
        .on("error", reject);
    });
    expect(status).toBe(401);
    expect(JSON.parse(body)).toMatchObject({ kind: "Status", reason: "Unauthorized", code: 401 });
    expect(JSON.parse(body).message).toMatch(/^kubewire: no credentials/);
  });

  it("records a client that does not trust the local CA as a client TLS failure", async () => {
    const cfg = parse(readFileSync(s.kubeconfigPath, "utf8"));
    cfg.clusters[0].cluster["certificate-authority-data"] = Buffer.from(world.cluster.caPem).toString("base64");
    const untrusting = join(world.dir, "untrusting.kubeconfig");
    writeFileSync(untrusting, stringify(cfg));
    const r = await kubectl(untrusting, ["get", "--raw", "/version"]);
    expect(r.stderr).toContain("x509: certificate signed by unknown authority");
    const last = await eventually(async () => (await recorded(s)).find(({ row }) => row.error?.code === "CLIENT_TLS"));
    expect(last.row.status).toBeNull();
  });
});
