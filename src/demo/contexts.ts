// The demo kubeconfig's contexts, in one table: one per demo user and per failure listener, each with
// the line `kubewire demo` shows for it. Data only (kubeconfig.ts writes them), so the CLI can print it cheaply.
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
