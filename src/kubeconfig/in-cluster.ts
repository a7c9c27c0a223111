// In-cluster capture: the upstream as client-go's rest.InClusterConfig() takes it (service host and
// port variables, the mounted CA, the namespace file), a pass-through Upstream that adds no
// credentials, the service account named by a client's token, and the kubeconfig for the pod's app.
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { UserError } from "../errors.js";
import type { Upstream } from "./upstream.js";

/** Where the kubelet mounts the service account volume (client-go's tokenFile and rootCAFile live here). */
export const DEFAULT_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface InClusterConfig {
  /** https://HOST:PORT, as net.JoinHostPort writes it */
  server: URL;
  caFile: string;
  caPem: string;
  tokenFile: string;
  namespace: string;
}

/**
 * rest.InClusterConfig(): KUBERNETES_SERVICE_HOST and _PORT (ErrNotInCluster when either is empty),
 * the token file, the CA; the namespace as clientcmd's in-cluster loader reads it (POD_NAMESPACE,
 * else the namespace file, else "default"). Where client-go only logs a bad CA, kubewire refuses:
 * it would otherwise forward to an API server it cannot verify.
 */
export function readInClusterConfig(saDir: string = DEFAULT_SA_DIR, env: NodeJS.ProcessEnv = process.env): InClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? "";
  const port = env.KUBERNETES_SERVICE_PORT ?? "";
  if (!host || !port) {
    throw new UserError(
      "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined",
      "--in-cluster runs inside a Pod (the kubelet sets both); outside one, set them to the API server's address",
    );
  }
  const tokenFile = join(saDir, "token");
  try {
    readFileSync(tokenFile);
  } catch (err) {
    throw new UserError(`open ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, "mount a service account token (automountServiceAccountToken), or point --sa-dir at the directory holding it");
  }
  const caFile = join(saDir, "ca.crt");
  let caPem: string;
  try {
    caPem = readFileSync(caFile, "utf8");
    new X509Certificate(caPem);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message.split("\n")[0];
    throw new UserError(`Expected to load root CA config from ${caFile}, but got err: ${why}`, "the service account volume should hold the cluster CA (kube-root-ca.crt)");
  }
  let namespace = env.POD_NAMESPACE ?? "";
  if (!namespace) {
    try {
      namespace = readFileSync(join(saDir, "namespace"), "utf8").trim();
    } catch {
      /* clientcmd falls back to "default" */
    }
  }
  const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  let server: URL;
  try {
    server = new URL(`https://${hostPort}`);
  } catch {
    throw new UserError(`KUBERNETES_SERVICE_HOST/PORT do not make an address: https://${hostPort}`);
  }
  return { server, caFile, caPem, tokenFile, namespace: namespace || "default" };
}

/**
 * The upstream of an in-cluster run: TLS verified with the mounted CA, and no credentials of its
 * own (headers() is empty): the client's bearer token is forwarded as it came.
 */
export function inClusterUpstream(cfg: InClusterConfig): Upstream {
  return {
    contextName: "in-cluster",
    clusterName: "in-cluster",
    userName: "",
    namespace: cfg.namespace,
    server: cfg.server,
    tls: { ca: cfg.caPem, verify: true },
    authMethod: "pass-through",
    headers: async () => ({}),
    cachedHeaders: () => ({}),
    invalidate: () => undefined,
  };
}

/**
 * The service account a bearer token belongs to, from its JWT claims (no signature check; the API
 * server checks it): `kubernetes.io.serviceaccount` of a projected token, the `kubernetes.io/serviceaccount/*`
 * claims of a legacy Secret token, else a `sub` of system:serviceaccount:NS:NAME. Null for other tokens.
 */
export function serviceAccountOf(authorization: string | string[] | undefined): string | null {
  if (typeof authorization !== "string") return null;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  const parts = m?.[1].split(".");
  if (!parts || parts.length !== 3) return null;
  let claims: Record<string, any>;
  try {
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (typeof claims !== "object" || claims === null) return null;
  const ok = (s: unknown): s is string => typeof s === "string" && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s);
  const k = claims["kubernetes.io"];
  if (k && ok(k.namespace) && ok(k.serviceaccount?.name)) return `system:serviceaccount:${k.namespace}:${k.serviceaccount.name}`;
  const legacyNs = claims["kubernetes.io/serviceaccount/namespace"];
  const legacyName = claims["kubernetes.io/serviceaccount/service-account.name"];
  if (ok(legacyNs) && ok(legacyName)) return `system:serviceaccount:${legacyNs}:${legacyName}`;
  const sub = typeof claims.sub === "string" ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub) : null;
  if (sub && ok(sub[1]) && ok(sub[2])) return claims.sub;
  return null;
}

export interface InClusterClientKubeconfig {
  proxyUrl: string;
  /** kubewire's local CA, which the app trusts for kubewire's serving certificate */
  caPem: string;
  /** a client certificate from the local CA: how the app proves itself to kubewire */
  client: { certPem: string; keyPem: string };
  /** the projected token, re-read by client-go (once a minute) so rotation keeps working */
  tokenFile: string;
  namespace: string;
}

/**
 * The app's kubeconfig: client-go sends both the client certificate (at the TLS layer, for kubewire)
 * and the tokenFile's bearer token (which kubewire forwards to the API server as it came).
 */
export function inClusterKubeconfigYaml(c: InClusterClientKubeconfig): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const q = JSON.stringify;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: in-cluster",
    "  cluster:",
    `    server: ${q(c.proxyUrl)}`,
    `    certificate-authority-data: ${q(b64(c.caPem))}`,
    "users:",
    "- name: in-cluster",
    "  user:",
    `    client-certificate-data: ${q(b64(c.client.certPem))}`,
    `    client-key-data: ${q(b64(c.client.keyPem))}`,
    `    tokenFile: ${q(c.tokenFile)}`,
    // client-node 1.4 reads "token-file" (client-go ignores the unknown key)
    `    token-file: ${q(c.tokenFile)}`,
    "contexts:",
    "- name: in-cluster",
    "  context:",
    "    cluster: in-cluster",
    "    user: in-cluster",
    `    namespace: ${q(c.namespace)}`,
    "current-context: in-cluster",
    "preferences: {}",
    "",
  ].join("\n");
}
