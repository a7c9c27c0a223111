// Which forward proxy a Go client (kubectl, client-go) uses for the API server: the
// kubeconfig's proxy-url, else HTTPS_PROXY unless NO_PROXY exempts the host; kubewire does the same.
import { hostOf } from "../url.js";
import net from "node:net";

export function defaultPort(url: URL): number {
  return Number(url.port || (url.protocol === "http:" ? 80 : 443));
}

/** True when NO_PROXY (as Go's httpproxy reads it) exempts host:port. */
export function noProxyMatches(noProxy: string, host: string, port: number): boolean {
  const h = host.toLowerCase();
  for (let entry of noProxy.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (entry === "*") return true;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.includes("]") && !net.isIP(entry)) {
      if (Number(m[2]) !== port) continue;
      entry = m[1];
    }
    if (entry.includes("/") && net.isIP(h)) {
      const [base, bits] = entry.split("/");
      const family = net.isIP(base) === 6 ? "ipv6" : "ipv4";
      try {
        const list = new net.BlockList();
        list.addSubnet(base, Number(bits), family);
        if (list.check(h, net.isIP(h) === 6 ? "ipv6" : "ipv4")) return true;
      } catch {
        /* not a CIDR */
      }
      continue;
    }
    if (h === entry || (entry.startsWith(".") ? h.endsWith(entry) : h.endsWith(`.${entry}`))) return true;
  }
  return false;
}

function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return u;
  }
}

/** Which proxy a Go client (kubectl) would use for the server, and why. */
export function effectiveProxy(server: URL, proxyUrl: string | undefined, env: NodeJS.ProcessEnv): { url?: string; why: string } {
  if (proxyUrl) return { url: proxyUrl, why: `proxy-url ${redactUrl(proxyUrl)} in the kubeconfig` };
  const host = hostOf(server);
  const envProxy = server.protocol === "https:" ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy;
  const name = server.protocol === "https:" ? "HTTPS_PROXY" : "HTTP_PROXY";
  if (!envProxy) return { why: `no proxy-url and no ${name}: direct connection` };
  const noProxy = env.NO_PROXY ?? env.no_proxy ?? "";
  if (host === "localhost" || host === "127.0.0.1" || host === "::1") return { why: `${name} is set, but Go clients never proxy ${host}: direct connection` };
  if (noProxyMatches(noProxy, host, defaultPort(server))) return { why: `${name} is set, but NO_PROXY (${noProxy}) exempts ${host}: direct connection` };
  return { url: envProxy, why: `${name}=${redactUrl(envProxy)} applies (${host} is not in NO_PROXY)` };
}

