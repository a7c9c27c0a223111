// Step 3 proves the API server can be reached from here: DNS gives every address of its host,
// a TCP connection to each succeeds (with its time), and which proxy, if any, is in the way.
import { lookup } from "node:dns/promises";
import net from "node:net";
import type { CheckResult } from "../types.js";
import { defaultPort, effectiveProxy } from "../kubeconfig/proxy-env.js";
import { hostOf } from "../url.js";
import { fail, pass, warn, type DoctorContext, type Step, type StepOutcome } from "./lib/step.js";

const LATER = [4, 5, 6, 7];

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
    checks.push(proxy.url ? warn("proxy", proxy.why, `make sure the proxy allows CONNECT to ${server.host}, or add ${hostOf(server)} to NO_PROXY`) : pass("proxy", proxy.why));
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
