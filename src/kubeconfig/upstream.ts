// Turns one kubeconfig context into what forwarding needs: the API server URL, TLS settings
// exactly as the kubeconfig says, and the credentials as request headers, read as client-go reads
// them (token, token-file, basic, client certificate, exec plugin, impersonation); only an
// auth-provider user loads @kubernetes/client-node, so start-up stays fast.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.js";
import { ExecPlugin, type ExecClusterInfo } from "./exec-plugin.js";
import { impersonationHeaders, impersonationOf, type ImpersonationAdded } from "./impersonation.js";
import { clusterOf, type LoadedKubeconfig } from "./load.js";
import { effectiveProxy } from "./proxy-env.js";

// in-cluster: "pass-through" adds no credentials; the client's own bearer token goes upstream (see in-cluster.ts)
export type AuthMethod = "token" | "token-file" | "client-certificate" | "basic" | "exec" | "auth-provider" | "none" | "pass-through";

export interface UpstreamTls {
  ca?: string | Buffer;
  /** The client certificate. An exec plugin that returns one replaces cert and key here: read them per connection. */
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
  /** the cluster's disable-compression: the client's Accept-Encoding must not reach the API server (client-go's DisableCompression) */
  disableCompression?: boolean;
  /** what kubewire adds on the user's behalf (as, as-uid, as-groups, as-user-extra keys), for the record */
  impersonation?: ImpersonationAdded;
  /** Credentials as headers; cached, refreshed for exec/auth-provider users. */
  headers(): Promise<Record<string, string>>;
  /** The cached headers when still fresh: the synchronous fast path. */
  cachedHeaders(): Record<string, string> | null;
  /** Forget cached credentials (after a 401, exec plugins are asked again). */
  invalidate(): void;
}

/** auth-provider credentials are asked again after this long (the provider refreshes its own tokens) */
const DYNAMIC_TTL_MS = 10_000;
/** client-go re-reads a token-file once a minute */
const TOKEN_FILE_TTL_MS = 60_000;

/** client-go's kubeconfig spells it tokenFile; client-node (and older docs) token-file. */
function tokenFileOf(user: Record<string, any>): string | undefined {
  return user.tokenFile || user["token-file"] || undefined;
}

export function authMethodOf(user: Record<string, any> | undefined): AuthMethod {
  if (!user) return "none";
  if (user.exec) return "exec";
  if (user["auth-provider"]) return "auth-provider";
  if (tokenFileOf(user)) return "token-file";
  if (user.token) return "token";
  if (user["client-certificate"] || user["client-certificate-data"]) return "client-certificate";
  if (user.username) return "basic";
  return "none";
}

/** client-go's dataFromSliceOrFile: the inline base64 data wins over the file. */
function dataOrFile(body: Record<string, any>, dataField: string, fileField: string, where: string): Buffer | undefined {
  const data = body[dataField];
  if (typeof data === "string" && data !== "") return Buffer.from(data, "base64");
  const file = body[fileField];
  if (typeof file === "string" && file !== "") {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UserError(`cannot read ${file} (${fileField} of ${where}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return undefined;
}

function readTokenFile(file: string, userName: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UserError(`cannot read ${file} (token-file of kubeconfig user "${userName}"): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** An auth-provider (oidc, gcp, azure): client-node's implementation, loaded only for these users. */
async function authProviderHeaders(loaded: LoadedKubeconfig): Promise<Record<string, string>> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  const opts: { headers: Record<string, string> } = { headers: {} };
  try {
    kc.loadFromString(JSON.stringify({ ...loaded.merged, "current-context": loaded.contextName }), { onInvalidEntry: "filter" });
    await kc.applyToHTTPSOptions(opts as never);
  } catch (err) {
    throw new UserError(`cannot get credentials for user "${loaded.userName}": ${(err as Error).message.split("\n")[0]}`);
  }
  const authorization = Object.entries(opts.headers).find(([k]) => k.toLowerCase() === "authorization")?.[1];
  return typeof authorization === "string" ? { authorization } : {};
}

export async function resolveUpstream(loaded: LoadedKubeconfig, env: NodeJS.ProcessEnv = process.env): Promise<Upstream> {
  const rawCluster = clusterOf(loaded);
  const rawUser: Record<string, any> = (loaded.merged.users as Array<Record<string, any>>).find((u) => u.name === loaded.userName)?.user ?? {};
  const authMethod = authMethodOf(loaded.userName ? rawUser : undefined);
  const clusterWhere = `kubeconfig cluster "${loaded.clusterName}"`;
  const userWhere = `kubeconfig user "${loaded.userName}"`;
  const server = new URL(rawCluster.server);
  const ca = dataOrFile(rawCluster, "certificate-authority-data", "certificate-authority", clusterWhere);
  const tls: UpstreamTls = {
    ca,
    cert: dataOrFile(rawUser, "client-certificate-data", "client-certificate", userWhere),
    key: dataOrFile(rawUser, "client-key-data", "client-key", userWhere),
    verify: rawCluster["insecure-skip-tls-verify"] !== true,
    servername: typeof rawCluster["tls-server-name"] === "string" && rawCluster["tls-server-name"] ? rawCluster["tls-server-name"] : undefined,
  };
  const impersonate = impersonationHeaders(rawUser);
  const proxyUrl = typeof rawCluster["proxy-url"] === "string" && rawCluster["proxy-url"] ? rawCluster["proxy-url"] : undefined;

  let plugin: ExecPlugin | null = null;
  if (authMethod === "exec") {
    const cluster: ExecClusterInfo = { server: rawCluster.server };
    if (tls.servername) cluster["tls-server-name"] = tls.servername;
    if (!tls.verify) cluster["insecure-skip-tls-verify"] = true;
    if (ca) cluster["certificate-authority-data"] = ca.toString("base64");
    if (proxyUrl) cluster["proxy-url"] = proxyUrl;
    if (rawCluster["disable-compression"] === true) cluster["disable-compression"] = true;
    const ext = (Array.isArray(rawCluster.extensions) ? rawCluster.extensions : []).find((e: any) => e?.name === "client.authentication.k8s.io/exec");
    if (ext) cluster.config = ext.extension;
    plugin = new ExecPlugin({ exec: rawUser.exec, userName: loaded.userName, cluster, env });
  }

  /** The credential headers, computed afresh; static kinds never change, so they are cached for good. */
  const compute = async (): Promise<Record<string, string>> => {
    const h: Record<string, string> = {};
    switch (authMethod) {
      case "token":
        h.authorization = `Bearer ${rawUser.token}`;
        break;
      case "token-file":
        h.authorization = `Bearer ${typeof rawUser.token === "string" && rawUser.token ? rawUser.token : readTokenFile(tokenFileOf(rawUser)!, loaded.userName)}`;
        break;
      case "basic":
        h.authorization = `Basic ${Buffer.from(`${rawUser.username}:${rawUser.password ?? ""}`).toString("base64")}`;
        break;
      case "exec": {
        const cred = await plugin!.get();
        if (cred.token) h.authorization = `Bearer ${cred.token}`;
        if (cred.certPem && cred.keyPem && (tls.cert !== cred.certPem || tls.key !== cred.keyPem)) {
          // used for the next connections, as client-go's dynamic client certificate
          tls.cert = cred.certPem;
          tls.key = cred.keyPem;
        }
        break;
      }
      case "auth-provider":
        Object.assign(h, await authProviderHeaders(loaded));
        break;
      default:
        if (rawUser.token) h.authorization = `Bearer ${rawUser.token}`;
    }
    return { ...h, ...impersonate };
  };
  const ttl = authMethod === "auth-provider" ? DYNAMIC_TTL_MS : authMethod === "token-file" ? TOKEN_FILE_TTL_MS : Infinity;
  let cached: Record<string, string> | null = null;
  let fetchedAt = 0;
  let pending: Promise<Record<string, string>> | null = null;
  const fresh = () => cached !== null && Date.now() - fetchedAt < ttl && (!plugin || plugin.cached() !== null);
  const names = impersonationOf(rawUser);
  return {
    contextName: loaded.contextName,
    clusterName: loaded.clusterName,
    userName: loaded.userName,
    namespace: loaded.namespace,
    server,
    tls,
    proxyUrl: effectiveProxy(server, proxyUrl, env).url,
    authMethod,
    ...(rawCluster["disable-compression"] === true ? { disableCompression: true } : {}),
    ...(names ? { impersonation: names } : {}),
    cachedHeaders: () => (fresh() ? cached : null),
    headers: async () => {
      if (fresh()) return cached!;
      pending ??= compute().then(
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
      plugin?.invalidate();
    },
  };
}

/** A context whose credentials or TLS files cannot be read: its listener answers every request with that error. */
export function failingUpstream(loaded: LoadedKubeconfig, err: Error): Upstream {
  const rawCluster = clusterOf(loaded);
  const rawUser = (loaded.merged.users as Array<Record<string, any>>).find((u) => u.name === loaded.userName)?.user;
  const message = err.message;
  return {
    contextName: loaded.contextName,
    clusterName: loaded.clusterName,
    userName: loaded.userName,
    namespace: loaded.namespace,
    server: new URL(rawCluster.server),
    tls: { verify: true },
    authMethod: authMethodOf(loaded.userName ? rawUser : undefined),
    cachedHeaders: () => null,
    headers: () => Promise.reject(new UserError(message)),
    invalidate: () => undefined,
  };
}
