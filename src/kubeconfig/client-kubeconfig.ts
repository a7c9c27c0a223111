// Writes the kubeconfig that clients use to reach the proxy: same context name and
// namespace, server at the proxy, the local CA, and this run's proxy token. Mode 0600.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stringify } from "yaml";
import { UserError } from "../errors.js";

export interface ClientKubeconfig {
  contextName: string;
  namespace: string;
  proxyUrl: string;
  caPem: string;
  token: string;
}

export function clientKubeconfigYaml(c: ClientKubeconfig): string {
  const name = `kubewire-${c.contextName}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server: c.proxyUrl, "certificate-authority-data": Buffer.from(c.caPem).toString("base64") } }],
    users: [{ name, user: { token: c.token } }],
    contexts: [{ name: c.contextName, context: { cluster: name, user: name, namespace: c.namespace } }],
    "current-context": c.contextName,
    preferences: {},
  });
}

export function writeClientKubeconfig(path: string, c: ClientKubeconfig): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, clientKubeconfigYaml(c), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    throw new UserError(`cannot write the client kubeconfig ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, "choose another path with --write-kubeconfig");
  }
}
