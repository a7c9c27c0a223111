// Who may talk to the web view: the per-run token (in the printed URL, then an HttpOnly
// SameSite=Strict cookie, or `Authorization: Bearer`), a Host header naming this server (no DNS
// rebinding), and the headers every answer carries (strict CSP, no CORS, no sniffing, no framing).
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

export class Guard {
  readonly cookieName: string;
  private readonly hosts: Set<string>;

  /** anyHost: listening on a wildcard address with --allow-remote, where no one name is the server's */
  constructor(private readonly token: string, listenHost: string, port: number, private readonly anyHost = false) {
    this.cookieName = `kubewire_ui_${port}`; // cookies are not scoped by port: one name per server
    const names = new Set([...LOOPBACK_NAMES, listenHost.includes(":") ? `[${listenHost}]` : listenHost]);
    this.hosts = new Set([...names].flatMap((n) => [n, `${n}:${port}`]));
  }

  /** True when the Host header names this server. */
  hostAllowed(req: IncomingMessage): boolean {
    if (this.anyHost) return true;
    const host = req.headers.host?.toLowerCase();
    return host !== undefined && this.hosts.has(host);
  }

  /** True when the request carries the token as the cookie or as a bearer token. */
  authorized(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ") && this.matches(auth.slice(7).trim())) return true;
    const cookie = req.headers.cookie ?? "";
    for (const part of cookie.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName && this.matches(part.slice(eq + 1).trim())) return true;
    }
    return false;
  }

  matches(candidate: string): boolean {
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Sets the cookie for a good ?token= and sends the browser to the page without it (always "/": no open redirect). */
  login(res: ServerResponse, path: "/"): void {
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      "set-cookie": `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=/`,
      location: path,
    });
    res.end();
  }
}
