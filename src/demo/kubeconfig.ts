// The demo kubeconfig's contexts, in one table: one per demo user and per failure listener, each with
// the line `kubewire demo` shows for it; writeDemoKubeconfig writes them (mode 0600) for kubectl --context.
import { chmodSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import type { DemoCluster } from "./cluster.js";

type Users = DemoCluster["users"];
type Failures = DemoCluster["failures"];

export interface DemoContext {
  name: string;
  /** the healthy server, one of the cluster's failure listeners, or a host name that does not resolve */
  server: "healthy" | keyof Failures | "no-such-host";
  /** the user entry: the context's own credential (named like the context), else the admin's token */
  user?: (u: Users) => Record<string, unknown>;
  /** what a client sees through this context, in one line (the demo's screen prints it) */
  shows: string;
}

const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** In kubeconfig order; demo-admin is the current context. */
export const DEMO_CONTEXTS: readonly DemoContext[] = [
  { name: "demo-admin", server: "healthy", user: (u) => ({ token: u.admin.token! }), shows: "cluster admin by bearer token: everything works" },
  { name: "demo-viewer", server: "healthy", user: (u) => ({ token: u.viewer.token! }), shows: "a user RBAC lets read in default only: 403 Forbidden elsewhere and for writes" },
  { name: "demo-cert", server: "healthy", user: (u) => ({ "client-certificate-data": b64(u.certUser.certPem!), "client-key-data": b64(u.certUser.keyPem!) }), shows: "a client certificate (CN cert-user)" },
  { name: "demo-basic", server: "healthy", user: (u) => ({ username: u.basicUser.username!, password: u.basicUser.password! }), shows: "basic auth (username and password)" },
  { name: "demo-expired-jwt", server: "healthy", user: (u) => ({ token: u.expiredJwt.token! }), shows: "a service account token that expired an hour ago: 401 Unauthorized" },
  { name: "demo-bad-token", server: "healthy", user: (u) => ({ token: u.badToken.token! }), shows: "a bearer token the server does not know (revoked): 401 Unauthorized" },
  {
    name: "demo-oidc",
    server: "healthy",
    user: (u) => ({ "auth-provider": { name: "oidc", config: { "client-id": "kubernetes", "idp-issuer-url": "https://dex.demo.invalid", "id-token": u.oidcUser.token! } } }),
    shows: "an OIDC ID token (auth-provider oidc)",
  },
  { name: "demo-expired-cert", server: "expiredUrl", shows: "the server's certificate expired yesterday: x509: certificate has expired" },
  { name: "demo-not-yet-valid", server: "notYetValidUrl", shows: "the server's certificate is valid from tomorrow (a skewed clock): x509" },
  { name: "demo-wrong-san", server: "wrongSanUrl", shows: "the server's certificate names other hosts: x509: certificate is valid for 10.96.0.1, not 127.0.0.1" },
  { name: "demo-unknown-ca", server: "unknownCaUrl", shows: "the server's certificate comes from a CA the kubeconfig does not trust: x509: unknown authority" },
  { name: "demo-self-signed", server: "selfSignedUrl", shows: "a self-signed server certificate: x509: certificate signed by unknown authority" },
  { name: "demo-silent", server: "silentTcpUrl", shows: "the port accepts TCP and never answers: a TLS handshake timeout" },
  { name: "demo-refused", server: "refusedUrl", shows: "nothing listens on the port: connection refused" },
  { name: "demo-dns", server: "no-such-host", shows: "the server's host name does not resolve: no such host" },
];

function serverOf(cluster: DemoCluster, c: DemoContext): string {
  if (c.server === "healthy") return cluster.url;
  if (c.server === "no-such-host") return "https://no-such-host.invalid:6443";
  return cluster.failures[c.server];
}

/** Writes a kubeconfig (0600) with every context of DEMO_CONTEXTS, current context demo-admin, namespace "default":
 * a context with its own user reaches the healthy server as cluster "demo"; one of a failure listener uses the admin's
 * token against its own cluster entry, named like the context. */
export function writeDemoKubeconfig(cluster: DemoCluster, path: string): void {
  const clusters: [string, string][] = [["demo", cluster.url]];
  const users: [string, Record<string, unknown>][] = [];
  const contexts: [string, string, string][] = [];
  for (const c of DEMO_CONTEXTS) {
    if (c.user) users.push([c.name, c.user(cluster.users)]);
    if (c.server !== "healthy") clusters.push([c.name, serverOf(cluster, c)]);
  }
  // the contexts with their own user first, then those of a failure listener (the order kubectl config get-contexts shows)
  for (const c of DEMO_CONTEXTS) if (c.user) contexts.push([c.name, c.server === "healthy" ? "demo" : c.name, c.name]);
  for (const c of DEMO_CONTEXTS) if (!c.user) contexts.push([c.name, c.server === "healthy" ? "demo" : c.name, "demo-admin"]);
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    "current-context": "demo-admin",
    clusters: clusters.map(([name, server]) => ({ name, cluster: { server, "certificate-authority-data": b64(cluster.caPem) } })),
    users: users.map(([name, user]) => ({ name, user })),
    contexts: contexts.map(([name, c, user]) => ({ name, context: { cluster: c, user, namespace: "default" } })),
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  chmodSync(path, 0o600);
}
