// Keeps the listener from being wedged by local processes that connect and never authenticate:
// counts connections that have not yet proved the proxy token (handshake under way, or done but no
// valid token yet), and beyond a cap drops the one that has waited longest to admit a new one.
import type { Socket } from "node:net";

export interface ListenerGuard {
  /** a new TCP connection; at the cap, the longest-waiting unauthenticated one is dropped for it */
  admit(raw: Socket): void;
  /** a request on this connection proved the token (or a local-CA client certificate) */
  authenticated(socket: object): void;
  /** connections accepted and not yet authenticated */
  readonly pending: number;
  /** unauthenticated connections dropped because the cap was reached, since the start */
  readonly refused: number;
}

/**
 * The TLS socket a server hands to request handlers wraps the accepted TCP socket, which Node keeps
 * as `_parent` (checked on Node 20 for https and for http2 with allowHTTP1); h2 compat requests give a
 * proxy of the TLS socket whose `_parent` is that same TCP socket.
 */
export function rawOf(socket: object): object {
  return (socket as { _parent?: object })._parent ?? socket;
}

export function makeListenerGuard(cap: number): ListenerGuard {
  // insertion order is arrival order: the first one is the one that has waited longest
  const waiting = new Set<object>();
  let refused = 0;
  return {
    admit(raw) {
      if (cap <= 0) return;
      while (waiting.size >= cap) {
        // Make room by dropping the connection that has waited longest rather than refusing the newcomer:
        // a flood then cannot lock out a kubectl that arrives during it and proves the token in a few ms.
        const oldest = waiting.values().next().value as Socket;
        waiting.delete(oldest);
        oldest.destroy();
        refused++;
      }
      waiting.add(raw);
      raw.once("close", () => waiting.delete(raw));
    },
    authenticated(socket) {
      waiting.delete(rawOf(socket));
    },
    get pending() {
      return waiting.size;
    },
    get refused() {
      return refused;
    },
  };
}
