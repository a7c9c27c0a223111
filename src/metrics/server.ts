// The `--metrics HOST:PORT` endpoint: GET /metrics in Prometheus text format, loopback only
// unless --allow-remote, nothing else served.
import http from "node:http";
import { UserError } from "../errors.js";
import type { KubewireMetrics } from "./registry.js";

export interface MetricsEndpoint {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith("127.");
}

export async function serveMetrics(metrics: KubewireMetrics, listen: { host: string; port: number }, allowRemote: boolean): Promise<MetricsEndpoint> {
  if (!isLoopback(listen.host) && !allowRemote) {
    throw new UserError(`--metrics ${listen.host} is not a loopback address`, "add --allow-remote to serve metrics to other machines");
  }
  const server = http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("kubewire serves only GET /metrics here\n");
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new UserError(`--metrics ${listen.host}:${listen.port}: the port is in use`) : err.code === "EADDRNOTAVAIL" ? new UserError(`--metrics ${listen.host}: no such local address`) : err),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
