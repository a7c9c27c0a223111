// Turns the chosen kubeconfig context into what forwarding needs: the API server URL,
// TLS settings exactly as the kubeconfig says, and the credentials as request headers.
import type { KubeConfig } from "@kubernetes/client-node";
import { UserError } from "../errors.js";
import type { LoadedKubeconfig } from "./load.js";
import { effectiveProxy } from "./proxy-env.js";

export type AuthMethod = "token" | "token-file" | "client-certificate" | "basic" | "exec" | "auth-provider" | "none";

export interface UpstreamTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false when insecure-skip-tls-verify is set */
  verify: boolean;
  /** tls-server-name, else the server's host name */
  servername?: string;
}

export interface Upstream {
  contextName: string;
  clusterName: string;
  userName: string;
  namespace: string;
  server: URL;
  tls: UpstreamTls;
  proxyUrl?: string;
  authMethod: AuthMethod;
  /** Credentials as headers; cached, refreshed for exec/auth-provider users. */
  headers(): Promise<Record<string, string>>;
  /** The cached headers when still fresh: the synchronous fast path. */
  cachedHeaders(): Record<string, string> | null;
  /** Forget cached credentials (after a 401, exec plugins are asked again). */
  invalidate(): void;
}

const DYNAMIC_TTL_MS = 10_000;

export function authMethodOf(user: Record<string, any> | undefined): AuthMethod {
  if (!user) return "none";
  if (user.exec) return "exec";
  if (user["auth-provider"]) return "auth-provider";
  if (user["token-file"]) return "token-file";
  if (user.token) return "token";
  if (user["client-certificate"] || user["client-certificate-data"]) return "client-certificate";
  if (user.username) return "basic";
  return "none";
}

async function credentialHeaders(kc: KubeConfig): Promise<Record<string, string>> {
  const opts: { headers: Record<string, string>; auth?: string } = { headers: {} };
  try {
    await kc.applyToHTTPSOptions(opts as never);
  } catch (err) {
    throw new UserError(`cannot get credentials for user "${kc.getCurrentUser()?.name ?? ""}": ${(err as Error).message.split("\n")[0]}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers)) if (typeof v === "string") headers[k.toLowerCase()] = v;
  if (opts.auth && !headers.authorization) headers.authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
  return headers;
}

export async function resolveUpstream(loaded: LoadedKubeconfig, env: NodeJS.ProcessEnv = process.env): Promise<Upstream> {
  const { kc } = loaded;
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new UserError(`cluster "${loaded.clusterName}" is not valid`);
  const rawUser = (loaded.merged.users as Array<Record<string, any>>).find((u) => u.name === loaded.userName)?.user;
  const authMethod = authMethodOf(rawUser);
  const tlsOpts: Record<string, any> = {};
  try {
    // reads certificate-authority, client-certificate and client-key (data or file)
    (kc as unknown as { applyHTTPSOptions(o: object): void }).applyHTTPSOptions(tlsOpts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const file = (e as { path?: string }).path;
    throw new UserError(file ? `cannot read ${file} (named in kubeconfig user "${loaded.userName}" or cluster "${loaded.clusterName}"): ${e.code}` : `kubeconfig: ${e.message}`);
  }
  const server = new URL(cluster.server);
  const tls: UpstreamTls = {
    ca: tlsOpts.ca,
    cert: tlsOpts.cert,
    key: tlsOpts.key,
    verify: !cluster.skipTLSVerify,
    servername: cluster.tlsServerName || undefined,
  };
  const dynamic = authMethod === "exec" || authMethod === "auth-provider";
  let cached: Record<string, string> | null = null;
  let fetchedAt = 0;
  let pending: Promise<Record<string, string>> | null = null;
  const fresh = () => cached !== null && (!dynamic || Date.now() - fetchedAt < DYNAMIC_TTL_MS);
  const upstream: Upstream = {
    contextName: loaded.contextName,
    clusterName: loaded.clusterName,
    userName: loaded.userName,
    namespace: loaded.namespace,
    server,
    tls,
    proxyUrl: effectiveProxy(server, cluster.proxyUrl || undefined, env).url,
    authMethod,
    cachedHeaders: () => (fresh() ? cached : null),
    headers: async () => {
      if (fresh()) return cached!;
      pending ??= credentialHeaders(kc).then(
        (h) => {
          cached = h;
          fetchedAt = Date.now();
          pending = null;
          return h;
        },
        (err) => {
          pending = null;
          throw err;
        },
      );
      return pending;
    },
    invalidate: () => {
      cached = null;
    },
  };
  return upstream;
}
