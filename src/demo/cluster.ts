// startDemoCluster: the healthy HTTPS listener and the failure listeners (bad certificates,
// silent TCP, refused port) around one DemoApi, with users, tokens and a prompt close().
import { randomBytes } from "node:crypto";
import { createServer as createHttpsServer, type Server } from "node:https";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { constants } from "node:crypto";
import { DemoApi } from "./api.js";
import { demoCerts } from "./certs.js";
import type { Identity } from "./rbac.js";
import { Store } from "./store.js";

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
  close(): Promise<void>;
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

/** in-cluster: an unsigned projected service-account token (as the kubelet mounts it) for system:serviceaccount:NS:NAME, valid for an hour. */
export function serviceAccountJwt(namespace: string, name: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    aud: ["https://kubernetes.default.svc.cluster.local"],
    exp: now + 3600,
    iat: now,
    iss: "https://kubernetes.default.svc.cluster.local",
    jti: randomBytes(16).toString("hex"),
    "kubernetes.io": { namespace, pod: { name: `${name}-7d4b9c-x2x4q`, uid: "4f3c2b1a-0000-4000-8000-000000000002" }, serviceaccount: { name, uid: "4f3c2b1a-0000-4000-8000-000000000003" } },
    nbf: now,
    sub: `system:serviceaccount:${namespace}:${name}`,
  };
  return `${b64({ alg: "RS256", kid: randomBytes(8).toString("hex") })}.${b64(payload)}.${randomBytes(256).toString("base64url")}`;
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export async function startDemoCluster(opts: { host?: string; bigListBytes?: number; slowMs?: number } = {}): Promise<DemoCluster> {
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

  const servers: (Server | TcpServer)[] = [];
  const listen = (server: Server | TcpServer): Promise<string> =>
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

  const https = (pair: { certPem: string; keyPem: string }): Promise<string> => {
    const server = createHttpsServer({
      cert: pair.certPem,
      key: pair.keyPem,
      ca: [certs.ca.certPem],
      requestCert: true,
      rejectUnauthorized: false,
      // No session tickets: a resumed session would hide the client certificate.
      secureOptions: constants.SSL_OP_NO_TICKET,
    });
    server.on("request", (req, res) => api.handleRequest(req, res));
    server.on("upgrade", (req, socket, head) => api.handleUpgrade(req, socket, head));
    server.on("tlsClientError", () => {});
    server.keepAliveTimeout = 30_000;
    return listen(server);
  };

  const url = await https(certs.server);
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
    close() {
      closed ??= (async () => {
        for (const stop of [...cleanups]) stop();
        cleanups.clear();
        const done = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        for (const s of sockets) s.destroy();
        await Promise.all(done);
      })();
      return closed;
    },
  };
}
