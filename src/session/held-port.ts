// A listening port bound before anything serves it: `exec` binds its ports, writes the kubeconfig and
// starts the wrapped command first, then loads the proxy while the command starts up. Connections that
// arrive meanwhile wait, unread (pauseOnConnect), and are handed over in order once a server takes them.
import net from "node:net";
import { listenError } from "../proxy/listen-error.js";

export interface HeldPort {
  host: string;
  port: number;
  /** https://HOST:PORT (an IPv6 host in brackets) */
  url: string;
  /** From now on every connection (those waiting first) goes to onSocket. */
  take(onSocket: (socket: net.Socket) => void): void;
  /** Calls cb once, when a connection is waiting (at once if one already is); the connection stays held until take(). */
  onFirstConnection(cb: () => void): void;
  /** Stops listening; connections still waiting for a server are closed. */
  close(): void;
}

/** Binds host:port (0: any free port). Errors are the one-line UserErrors `--listen` has always given. */
export function holdPort(host: string, port: number): Promise<HeldPort> {
  let waiting: net.Socket[] | null = [];
  let onSocket: ((socket: net.Socket) => void) | null = null;
  let onFirst: (() => void) | null = null;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    if (onSocket) return onSocket(socket);
    if (waiting === null) return void socket.destroy();
    waiting.push(socket);
    const first = onFirst;
    onFirst = null;
    first?.();
    socket.on("error", () => socket.destroy());
    socket.once("close", () => waiting && waiting.splice(waiting.indexOf(socket) >>> 0, 1));
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    server.listen(port, host, () => {
      server.removeAllListeners("error");
      server.on("error", () => undefined);
      const bound = (server.address() as net.AddressInfo).port;
      resolve({
        host,
        port: bound,
        url: `https://${host.includes(":") ? `[${host}]` : host}:${bound}`,
        take(handler) {
          onSocket = handler;
          const queued = waiting ?? [];
          waiting = null;
          for (const s of queued) {
            s.removeAllListeners("close");
            s.removeAllListeners("error");
            if (!s.destroyed) handler(s);
          }
        },
        onFirstConnection(cb) {
          if (waiting && waiting.length > 0) queueMicrotask(cb);
          else onFirst = cb;
        },
        close() {
          if (!server.listening) return;
          server.close();
          for (const s of waiting ?? []) s.destroy();
          waiting = null;
        },
      });
    });
  });
}
