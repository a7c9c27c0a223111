// Test harness for the proxy's own options (deadlines, caps, keepalive): a kubewire proxy in front
// of a world's cluster, started with startProxy directly, recording into memory, with a kubeconfig
// for kubectl that points at it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { loadKubeconfig } from "../../src/kubeconfig/load.js";
import { resolveUpstream } from "../../src/kubeconfig/upstream.js";
import { startProxy, type ProxyOptions, type RunningProxy } from "../../src/proxy/server.js";
import { loadLocalCa } from "../../src/tls/local-ca.js";
import { ensureStateDir } from "../../src/tls/state-dir.js";
import type { Exchange } from "../../src/types.js";
import type { World } from "./world.js";

export interface TestProxy {
  proxy: RunningProxy;
  /** a kubeconfig whose current context goes through the proxy */
  kubeconfig: string;
  token: string;
  caPem: string;
  /** every exchange recorded so far, in the order they ended */
  exchanges: Exchange[];
  close(): Promise<void>;
}

let seq = 0;

export async function startTestProxy(world: World, options: Partial<ProxyOptions> = {}, context = "demo-admin", kubeconfig = world.kubeconfig): Promise<TestProxy> {
  const upstream = await resolveUpstream(loadKubeconfig({ kubeconfig, context }));
  const local = loadLocalCa(ensureStateDir(join(world.dir, "state")));
  const token = `test-token-${++seq}-${process.pid}`;
  const exchanges: Exchange[] = [];
  const proxy = await startProxy({ upstream, sink: { record: (e) => void exchanges.push(e) }, ca: local.ca, server: local.server, token, host: "127.0.0.1", port: 0, ...options });
  const path = join(world.dir, `proxy-${seq}.kubeconfig`);
  const name = "through-kubewire";
  writeFileSync(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name, cluster: { server: proxy.url, "certificate-authority-data": Buffer.from(local.ca.certPem).toString("base64") } }],
      users: [{ name, user: { token } }],
      contexts: [{ name, context: { cluster: name, user: name, namespace: "default" } }],
      "current-context": name,
    }),
    { mode: 0o600 },
  );
  return { proxy, kubeconfig: path, token, caPem: local.ca.certPem, exchanges, close: () => proxy.close(100) };
}
