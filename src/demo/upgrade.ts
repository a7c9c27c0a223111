// Upgrade requests: exec and attach on a pod over WebSocket (v4/v5.channel.k8s.io) or SPDY/3.1,
// after the same admission as every request; anything else is refused as the API server refuses it.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Admission } from "./admission.js";
import type { ApiContext } from "./api-context.js";
import { answerWithoutUpgrade, chooseProtocol, refuseMissingContainer, rejectUpgrade, serveSpdyEcho, serveWebSocketExec, upgradesHere } from "./exec.js";
import * as st from "./status.js";

function reasonPhrase(code: number): string {
  return { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error" }[code] ?? "Error";
}

/** `plain` answers an upgrade request this server does not upgrade, as an ordinary request. */
export function serveUpgrade(ctx: ApiContext, admission: Admission, plain: (req: IncomingMessage, res: ServerResponse) => void, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on("error", () => socket.destroy());
  if (!upgradesHere(req)) return answerWithoutUpgrade(req, socket, plain);
  const untrack = ctx.track(() => socket.destroy());
  socket.on("close", untrack);
  const a = admission.admit(req);
  if (!a.ok) {
    if ("throttled" in a.status) {
      rejectUpgrade(socket, 429, "Too Many Requests", a.status.throttled, { ...a.headers, "Content-Type": "text/plain; charset=utf-8" });
    } else rejectUpgrade(socket, a.status.code, reasonPhrase(a.status.code), JSON.stringify(a.status), a.headers);
    return;
  }
  const { info, url, headers } = a;
  const fail = (s: st.Status): void => rejectUpgrade(socket, s.code, reasonPhrase(s.code), JSON.stringify(s), headers);
  if (!info.isResourceRequest || info.resource !== "pods" || !["exec", "attach"].includes(info.subresource)) {
    fail(st.badRequest("the server does not allow upgrades on this path"));
    return;
  }
  const pod = ctx.store.get("/pods", info.namespace, info.name);
  if (!pod) return fail(st.notFound("", "pods", info.name));
  if (refuseMissingContainer(socket, pod, info.name, url, headers)) return;
  const upgrade = String(req.headers.upgrade ?? "").toLowerCase();
  if (upgrade === "websocket") {
    const protocol = chooseProtocol(req);
    if (!protocol) return fail(st.badRequest("unable to upgrade: no supported subprotocol was offered; supported: v5.channel.k8s.io, v4.channel.k8s.io"));
    serveWebSocketExec(req, socket, protocol, headers, url.searchParams.getAll("command"), info.subresource === "attach");
  } else if (upgrade.startsWith("spdy/")) {
    serveSpdyEcho(socket, head, headers);
  } else {
    fail(st.badRequest(`unsupported upgrade protocol ${JSON.stringify(req.headers.upgrade)}`));
  }
}
