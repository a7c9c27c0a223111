// Step 3 proves the API server can be reached from here: DNS gives every address of its host,
// a TCP connection to each succeeds (with its time), and which proxy, if any, is in the way.
import { lookup } from "node:dns/promises";
import net from "node:net";
import type { CheckResult } from "../types.js";
import { fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./step.js";

const LATER = [4, 5, 6, 7];

export function defaultPort(url: URL): number {
  return Number(url.port || (url.protocol === "http:" ? 80 : 443));
}

export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, "");
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

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<{ ms: number; error?: NodeJS.ErrnoException }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error?: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ ms: performance.now() - started, error });
    };
    socket.setTimeout(timeoutMs, () => done(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    socket.once("connect", () => done());
    socket.once("error", (err) => done(err));
  });
}

const CONNECT_FIX: Record<string, string> = {
  ECONNREFUSED: "is the API server running, and are the host and port in the kubeconfig's server right?",
  ETIMEDOUT: "check that the API server is reachable from here (firewall, VPN, security group)",
  EHOSTUNREACH: "no route to the host: check the VPN or network",
  ENETUNREACH: "no route to the network: check the VPN or network",
};

export const network: Step = {
  number: 3,
  name: "network",
  async run(ctx: DoctorContext): Promise<StepOutcome> {
    const server = ctx.server!;
    const checks: CheckResult[] = [];
    const proxy = effectiveProxy(server, ctx.cluster?.["proxy-url"], ctx.opts.env);
    const kubewireNote = proxy.url && !ctx.cluster?.["proxy-url"] ? "; note: kubewire itself only uses a kubeconfig proxy-url" : "";
    checks.push(proxy.url ? warn("proxy", `${proxy.why}${kubewireNote}`, `make sure the proxy allows CONNECT to ${server.host}, or add ${hostOf(server)} to NO_PROXY`) : pass("proxy", proxy.why));
    // through a proxy, the host is the proxy's to resolve: test the way to the proxy instead
    const target = proxy.url ? new URL(proxy.url) : server;
    const host = hostOf(target);
    const port = defaultPort(target);
    const what = proxy.url ? "proxy" : "API server";
    let addresses: string[];
    if (net.isIP(host)) {
      addresses = [host];
      checks.push(pass("dns", `${host} is an IP address: no lookup`));
    } else {
      const started = performance.now();
      try {
        const found = await Promise.race([
          lookup(host, { all: true, verbatim: true }),
          new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })), ctx.opts.timeoutMs).unref()),
        ]);
        addresses = [...new Set(found.map((a) => a.address))];
        checks.push(pass("dns", `${host} → ${addresses.join(", ")} (${Math.round(performance.now() - started)} ms)`));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "ERROR";
        const detail = code === "ENOTFOUND" ? `lookup ${host}: no such host` : code === "ETIMEDOUT" ? `lookup ${host}: no answer within ${ctx.opts.timeoutMs} ms` : `lookup ${host}: ${code}`;
        checks.push(fail("dns", `${detail} (the ${what} host)`, `check the host name in ${proxy.url ? "the proxy setting" : "the kubeconfig's server"}, and this machine's DNS (VPN connected? /etc/resolv.conf)`));
        return { checks, blocks: LATER };
      }
    }
    ctx.addresses = addresses;
    const results = await Promise.all(addresses.map((a) => tcpConnect(a, port, ctx.opts.timeoutMs).then((r) => ({ address: a, ...r }))));
    const ok = results.filter((r) => !r.error);
    for (const r of results) {
      const at = `${r.address.includes(":") ? `[${r.address}]` : r.address}:${port}`;
      if (!r.error) checks.push(pass("tcp", `connected to ${at} in ${r.ms.toFixed(1)} ms`));
      else {
        const code = r.error.code ?? "ERROR";
        const detail = code === "ECONNREFUSED" ? `dial ${at}: connection refused` : code === "ETIMEDOUT" ? `dial ${at}: no answer within ${ctx.opts.timeoutMs} ms` : `dial ${at}: ${code}`;
        const fixText = CONNECT_FIX[code] ?? "check the network path to the API server";
        checks.push(ok.length ? warn("tcp", `${detail}; other addresses answer, but clients may try this one first`, fixText) : fail("tcp", `${detail} (the ${what})`, fixText));
      }
    }
    return ok.length ? { checks } : { checks, blocks: LATER };
  },
};
