// writeDemoKubeconfig: a kubeconfig (mode 0600) with one context per demo user and per
// failure listener, so kubectl can be pointed at each scripted problem by --context.
import { chmodSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";
import type { DemoCluster } from "./cluster.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** Writes a kubeconfig (0600) whose contexts reach the demo cluster: demo-admin (token, current), demo-viewer (token, RBAC-limited),
 * demo-cert (client cert data), demo-basic (basic auth), demo-expired-jwt, demo-bad-token, demo-oidc (auth-provider), demo-expired-cert, demo-not-yet-valid,
 * demo-wrong-san, demo-unknown-ca, demo-self-signed, demo-silent, demo-refused, demo-dns (server https://no-such-host.invalid:6443). Namespace "default". */
export function writeDemoKubeconfig(cluster: DemoCluster, path: string): void {
  const { users: u, failures: f } = cluster;
  const clusters: [string, string][] = [
    ["demo", cluster.url],
    ["demo-expired-cert", f.expiredUrl],
    ["demo-not-yet-valid", f.notYetValidUrl],
    ["demo-wrong-san", f.wrongSanUrl],
    ["demo-unknown-ca", f.unknownCaUrl],
    ["demo-self-signed", f.selfSignedUrl],
    ["demo-silent", f.silentTcpUrl],
    ["demo-refused", f.refusedUrl],
    ["demo-dns", "https://no-such-host.invalid:6443"],
  ];
  const users: [string, Record<string, unknown>][] = [
    ["demo-admin", { token: u.admin.token! }],
    ["demo-viewer", { token: u.viewer.token! }],
    ["demo-cert", { "client-certificate-data": b64(u.certUser.certPem!), "client-key-data": b64(u.certUser.keyPem!) }],
    ["demo-basic", { username: u.basicUser.username!, password: u.basicUser.password! }],
    ["demo-expired-jwt", { token: u.expiredJwt.token! }],
    ["demo-bad-token", { token: u.badToken.token! }],
    ["demo-oidc", { "auth-provider": { name: "oidc", config: { "client-id": "kubernetes", "idp-issuer-url": "https://dex.demo.invalid", "id-token": u.oidcUser.token! } } }],
  ];
  const contexts: [string, string, string][] = [
    ["demo-admin", "demo", "demo-admin"],
    ["demo-viewer", "demo", "demo-viewer"],
    ["demo-cert", "demo", "demo-cert"],
    ["demo-basic", "demo", "demo-basic"],
    ["demo-expired-jwt", "demo", "demo-expired-jwt"],
    ["demo-bad-token", "demo", "demo-bad-token"],
    ["demo-oidc", "demo", "demo-oidc"],
    ...clusters.slice(1).map(([name]) => [name, name, "demo-admin"] as [string, string, string]),
  ];
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
