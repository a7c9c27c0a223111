// startDemoCluster: the healthy HTTPS listener (h2 and HTTP/1.1 by ALPN, as kube-apiserver) and the
// failure listeners (bad certificates, silent TCP, refused port) around one DemoApi, with users,
// tokens, a GOAWAY chance, an optional freezable relay in front, and a prompt close().
import { randomBytes } from "node:crypto";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect as tcpConnect } from "node:net";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { constants } from "node:crypto";
import { DemoApi } from "./api.js";
import { demoCerts } from "./certs.js";
import type { Identity } from "./rbac.js";
import { Store } from "./store.js";
import { serviceAccountJwt } from "./tokens.js";

export { serviceAccountJwt };

export interface DemoUser { name: string; token?: string; certPem?: string; keyPem?: string; username?: string; password?: string }

export interface DemoCluster {
  url: string;
  caPem: string;
  users: { admin: DemoUser; viewer: DemoUser; certUser: DemoUser; basicUser: DemoUser; expiredJwt: DemoUser; badToken: DemoUser; oidcUser: DemoUser; serviceAccount: DemoUser };
  /** in-cluster: a fresh projected token for the same service account as users.serviceAccount (as the kubelet's rotation makes one) */
  rotateServiceAccountToken(): string;
  /** forget a bearer token (an expired or invalidated projected token): it gets 401 from then on */
  revokeToken(token: string): void;
  failures: {
    expiredUrl: string;
    notYetValidUrl: string;
    wrongSanUrl: string;
    unknownCaUrl: string;
    selfSignedUrl: string;
    silentTcpUrl: string;
    refusedUrl: string;
  };
  requests: number;
  /**
   * Only with `freezable`: from now on the cluster neither answers nor reads, on connections open
   * and new ones, while every TCP connection stays open (as a SIGSTOPped API server or a dead path).
   */
  freeze(): void;
  close(): Promise<void>;
}

export interface DemoClusterOptions {
  host?: string;
  bigListBytes?: number;
  slowMs?: number;
  /** offer HTTP/2 by ALPN (default true, as kube-apiserver); false serves HTTP/1.1 only */
  http2?: boolean;
  /** the fraction of HTTP/2 requests (watches excepted) after which the server sends GOAWAY, as --goaway-chance */
  goawayChance?: number;
  /** put a TCP relay in front of the healthy listener (the cluster URL), which freeze() stops */
  freezable?: boolean;
}

/** Headers HTTP/2 forbids; the demo's handlers set them for HTTP/1.1, Go's server drops them on h2. */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** The DemoApi writes responses the HTTP/1.1 way: on an h2 stream, drop what HTTP/2 forbids. */
function h2Compatible(res: Http2ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => Http2ServerResponse;
  const clean = (h: unknown): unknown => {
    if (!h || typeof h !== "object" || Array.isArray(h)) return h;
    return Object.fromEntries(Object.entries(h as Record<string, unknown>).filter(([k]) => !CONNECTION_SPECIFIC.has(k.toLowerCase())));
  };
  (res as unknown as { writeHead: unknown }).writeHead = (status: number, ...rest: unknown[]) =>
    writeHead(status, ...rest.filter((r) => typeof r !== "string").map(clean)); // h2 has no status message
  const setHeader = res.setHeader.bind(res);
  (res as unknown as { setHeader: unknown }).setHeader = (name: string, value: string | string[]) => (CONNECTION_SPECIFIC.has(name.toLowerCase()) ? res : setHeader(name, value));
}

const token = (): string => randomBytes(24).toString("base64url");

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");

/** An unsigned OIDC ID token, valid for a day, as an identity provider (here: a made-up Dex) issues it. */
function oidcIdToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: "https://dex.demo.invalid", sub: "CgVhbGljZRIEZGV4", aud: "kubernetes", exp: now + 86400, iat: now, email: "alice@example.com", groups: ["developers"] };
  return `${b64({ alg: "RS256", kid: randomBytes(8).toString("hex") })}.${b64(payload)}.${randomBytes(256).toString("base64url")}`;
}

/** An unsigned service-account-style JWT that expired an hour ago. */
function expiredJwt(): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: randomBytes(8).toString("hex") };
  const payload = {
    aud: ["https://kubernetes.default.svc.cluster.local"],
    exp: now - 3600,
    iat: now - 7200,
    iss: "https://kubernetes.default.svc.cluster.local",
    jti: randomBytes(16).toString("hex"),
    "kubernetes.io": { namespace: "default", serviceaccount: { name: "builder", uid: "4f3c2b1a-0000-4000-8000-000000000001" } },
    nbf: now - 7200,
    sub: "system:serviceaccount:default:builder",
  };
  return `${b64(header)}.${b64(payload)}.${randomBytes(256).toString("base64url")}`;
}


function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startDemoCluster(opts: DemoClusterOptions = {}): Promise<DemoCluster> {
  const host = opts.host ?? "127.0.0.1";
  const certs = demoCerts();
  const sockets = new Set<Socket>();
  const cleanups = new Set<() => void>();
  let requests = 0;

  const users = {
    admin: { name: "kubernetes-admin", token: token() },
    viewer: { name: "viewer", token: token() },
    certUser: { name: "cert-user", certPem: certs.client.certPem, keyPem: certs.client.keyPem },
    basicUser: { name: "basic-user", username: "basic-user", password: randomBytes(12).toString("base64url") },
    expiredJwt: { name: "system:serviceaccount:default:builder", token: expiredJwt() },
    badToken: { name: "bad-token", token: token() },
    oidcUser: { name: "alice@example.com", token: oidcIdToken() },
    serviceAccount: { name: "system:serviceaccount:apps:operator", token: serviceAccountJwt("apps", "operator") },
  } satisfies DemoCluster["users"];

  const tokens = new Map<string, Identity>([
    [users.admin.token, { username: "kubernetes-admin", groups: ["kubeadm:cluster-admins", "system:authenticated"] }],
    [users.viewer.token, { username: "viewer", groups: ["system:authenticated"] }],
    [users.oidcUser.token, { username: "alice@example.com", groups: ["developers", "system:masters", "system:authenticated"] }],
  ]);
  const serviceAccountIdentity: Identity = { username: users.serviceAccount.name, groups: ["system:serviceaccounts", "system:serviceaccounts:apps", "system:authenticated"] };
  tokens.set(users.serviceAccount.token, serviceAccountIdentity);
  const basic = new Map<string, Identity>([[`${users.basicUser.username}:${users.basicUser.password}`, { username: "basic-user", groups: ["system:masters", "system:authenticated"] }]]);

  let serverAddress = "";
  const api = new DemoApi({
    store: new Store(),
    tokens,
    basic,
    slowMs: opts.slowMs ?? 3000,
    bigListBytes: opts.bigListBytes ?? 20 * 1024 * 1024,
    serverAddress: () => serverAddress,
    track: (stop) => {
      cleanups.add(stop);
      return () => void cleanups.delete(stop);
    },
    countRequest: () => void requests++,
  });

  const servers: (Server | TcpServer | Http2SecureServer)[] = [];
  const listen = (server: Server | TcpServer | Http2SecureServer): Promise<string> =>
    new Promise((resolve, reject) => {
      server.on("connection", (s: Socket) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      });
      server.once("error", reject);
      server.listen(0, host, () => {
        servers.push(server);
        resolve(`https://${hostForUrl(host)}:${(server.address() as AddressInfo).port}`);
      });
    });

  const goawayChance = opts.goawayChance ?? 0;
  const h2Sessions = new Set<import("node:http2").ServerHttp2Session>();
  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    if (req.httpVersion === "2.0") {
      const h2res = res as Http2ServerResponse;
      h2Compatible(h2res);
      // what the handlers read from node:http's IncomingMessage and the compat request lacks
      const distinct: Record<string, string[]> = {};
      const raw = req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (raw[i][0] !== ":") (distinct[raw[i].toLowerCase()] ??= []).push(raw[i + 1]);
      Object.defineProperty(req, "headersDistinct", { value: distinct });
      if (req.headers.host === undefined && req.headers[":authority"]) req.headers.host = String(req.headers[":authority"]);
      // --goaway-chance: after this answer the connection is told to go away (GOAWAY, NO_ERROR); streams
      // in flight finish, the client opens a new connection. Watches never trigger it, as in kube-apiserver.
      if (goawayChance > 0 && !/(^|&)watch=(true|1)/.test((req.url ?? "").split("?")[1] ?? "") && Math.random() < goawayChance) {
        const session = (req as Http2ServerRequest).stream.session; // the compat request lets go of its stream at the end
        h2res.once("finish", () => {
          if (session && !session.closed && !session.destroyed) session.close();
        });
      }
    }
    api.handleRequest(req as IncomingMessage, res as ServerResponse);
  };

  const https = (pair: { certPem: string; keyPem: string }, h2 = false): Promise<string> => {
    const tlsOptions = {
      cert: pair.certPem,
      key: pair.keyPem,
      ca: [certs.ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      // No session tickets: a resumed session would hide the client certificate.
      secureOptions: constants.SSL_OP_NO_TICKET,
    };
    // 250 streams per connection: Go's default, which kube-apiserver keeps unless --http2-max-streams-per-connection says otherwise
    const server = h2 ? createSecureServer({ ...tlsOptions, allowHTTP1: true, settings: { maxConcurrentStreams: 250 } }) : createHttpsServer(tlsOptions);
    if (h2) {
      const s2 = server as Http2SecureServer;
      s2.on("session", (session) => {
        h2Sessions.add(session);
        session.on("error", () => undefined);
        session.once("close", () => h2Sessions.delete(session));
      });
      s2.on("sessionError", () => undefined);
    }
    server.on("request", onRequest);
    server.on("upgrade", (req, socket, head) => api.handleUpgrade(req, socket, head));
    server.on("tlsClientError", () => {});
    (server as Server).keepAliveTimeout = 30_000;
    return listen(server);
  };

  const direct = await https(certs.server, opts.http2 ?? true);
  const relay = opts.freezable ? await freezableRelay(direct, host, listen) : null;
  const url = relay?.url ?? direct;
  serverAddress = url.replace(/^https:\/\//, "");
  const [expiredUrl, notYetValidUrl, wrongSanUrl, unknownCaUrl, selfSignedUrl] = await Promise.all([
    https(certs.expired),
    https(certs.notYetValid),
    https(certs.wrongSan),
    https(certs.unknownCa),
    https(certs.selfSigned),
  ]);
  const silent = createTcpServer(() => {});
  const silentTcpUrl = await listen(silent);
  const refusedUrl = await new Promise<string>((resolve, reject) => {
    const probe = createTcpServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const port = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(`https://${hostForUrl(host)}:${port}`));
    });
  });

  let closed: Promise<void> | undefined;
  return {
    url,
    caPem: certs.ca.certPem,
    users,
    failures: { expiredUrl, notYetValidUrl, wrongSanUrl, unknownCaUrl, selfSignedUrl, silentTcpUrl, refusedUrl },
    rotateServiceAccountToken() {
      const fresh = serviceAccountJwt("apps", "operator");
      tokens.set(fresh, serviceAccountIdentity);
      return fresh;
    },
    revokeToken(t: string) {
      tokens.delete(t);
    },
    get requests() {
      return requests;
    },
    freeze() {
      if (!relay) throw new Error("startDemoCluster({ freezable: true }) is needed to freeze the cluster");
      relay.freeze();
    },
    close() {
      closed ??= (async () => {
        for (const stop of [...cleanups]) stop();
        cleanups.clear();
        for (const s of h2Sessions) s.destroy();
        const done = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        for (const s of sockets) s.destroy();
        await Promise.all(done);
      })();
      return closed;
    },
  };
}

/**
 * A TCP relay in front of `target` that can be frozen: then it stops passing bytes both ways and
 * stops reading, on connections open and new ones, and closes nothing.
 */
async function freezableRelay(target: string, host: string, listen: (server: TcpServer) => Promise<string>): Promise<{ url: string; freeze(): void }> {
  const port = Number(new URL(target).port);
  let frozen = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createTcpServer((client) => {
    client.on("error", () => client.destroy());
    if (frozen) return void client.pause();
    const up = tcpConnect(port, host);
    up.on("error", () => client.destroy());
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
    client.pipe(up);
    up.pipe(client);
    const pair: [Socket, Socket] = [client, up];
    pairs.add(pair);
    client.once("close", () => pairs.delete(pair));
  });
  const url = (await listen(server)).replace(/^https:/, "https:");
  return {
    url,
    freeze() {
      frozen = true;
      for (const [client, up] of pairs) {
        client.unpipe(up);
        up.unpipe(client);
        client.pause();
        up.pause();
      }
    },
  };
}
