// `kubewire ui`'s HTTP server: the built page (dist/ui/web) and the JSON API under /api/ over one
// recording, read-only, with live updates by polling the SQLite file for new ids (so it follows a
// recording written by another process). Loopback only unless allowRemote; see guard.ts and docs/api.md.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import type { AddressInfo } from "node:net";
import { UserError } from "../errors.js";
import { Store, type ListFilter } from "../store/store.js";
import { rules } from "../analyze/index.js";
import { toHarEntry, HAR_VERSION } from "../export/har-write.js";
import { planReplay, mutationReason, type SendPlan } from "../replay/safety-policy.js";
import type { Comparison } from "../replay/compare.js";
import type { Exchange } from "../types.js";
import type { CredentialFacts } from "../analyze/lib/rule.js";
import { protobufText } from "../proxy/protobuf.js";
import { explainFlags, replayCommand, showData } from "../report/exchange-report.js";
import { Guard, SECURITY_HEADERS } from "./guard.js";
import { filterFromQuery, intParam } from "./query.js";

/** Where `npm run build` puts the page; the same path from src/ui (tests) and dist/ui (installed). */
export const WEB_DIR = resolve(import.meta.dirname, "../../dist/ui/web");
const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };
const POLL_MS = 250;
const MAX_PAGE = 5000;

export interface ReplayItem {
  original: Exchange;
  flags: string[];
  plan: SendPlan;
}

/** Sends planned replays through a recording session for a kubeconfig context (the CLI's runReplays). */
export type Replayer = (items: ReplayItem[], context: string | undefined) => Promise<{ context: string; user: string; comparisons: Comparison[] }>;

export interface UiServerOptions {
  db: string;
  host?: string;
  port?: number;
  allowRemote?: boolean;
  /** fixed token (tests); a random one per run otherwise */
  token?: string;
  replay?: Replayer;
  /** what the kubeconfig says of each context's credentials, for the unauthorized flag's advice */
  credentials?: () => Map<string, CredentialFacts>;
  pollMs?: number;
}

export interface UiServer {
  /** the URL with the token, to print */
  url: string;
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

interface Client {
  res: ServerResponse;
  filter: ListFilter;
  last: number;
}

export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const host = o.host ?? "127.0.0.1";
  if (!LOOPBACK.has(host) && !host.startsWith("127.") && !o.allowRemote) {
    throw new UserError(`--listen ${host} is not a loopback address`, "add --allow-remote to serve the recording to other machines");
  }
  if (!existsSync(o.db)) throw new UserError(`no recording at ${o.db}`, "record one with: kubewire start, or kubewire exec -- CMD");
  const store = Store.open(o.db, { readonly: true });
  const token = o.token ?? randomBytes(24).toString("base64url");
  const clients = new Set<Client>();
  let guard: Guard;
  let credentials: Map<string, CredentialFacts> | null = null;
  const facts = () => {
    try {
      credentials ??= o.credentials?.() ?? new Map();
    } catch {
      credentials = new Map(); // an unreadable kubeconfig: advice without its facts
    }
    return credentials;
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (err instanceof UserError) sendJson(res, 400, { error: err.message });
      else sendJson(res, 500, { error: `kubewire: ${(err as Error).message}` });
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (!guard.hostAllowed(req)) return sendJson(res, 421, { error: "this server answers only to its own address (Host header refused)" });
    const url = new URL(req.url ?? "/", "http://ui.invalid");
    const tokenParam = url.searchParams.get("token");
    if (tokenParam !== null && req.method === "GET" && !url.pathname.startsWith("/api/")) {
      if (guard.matches(tokenParam)) return guard.login(res, "/");
      return sendText(res, 401, "kubewire ui: that token is not this run's; open the URL kubewire printed.\n");
    }
    if (!guard.authorized(req)) {
      if (url.pathname.startsWith("/api/")) return sendJson(res, 401, { error: "missing or wrong token: open the URL kubewire printed, or send Authorization: Bearer <token>" });
      return sendText(res, 401, "kubewire ui: open the URL kubewire printed (it carries this run's token).\n");
    }
    if (url.pathname.startsWith("/api/")) return api(req, res, url);
    if (req.method !== "GET") return sendJson(res, 405, { error: "method not allowed" });
    const file = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (!/^[a-z0-9-]+\.(html|js|css|svg)$/.test(file)) return sendText(res, 404, "not found\n");
    const full = join(WEB_DIR, file);
    if (!existsSync(full)) return sendText(res, 404, file === "index.html" ? "kubewire ui: the page is not built; run npm run build\n" : "not found\n");
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": TYPES[extname(file)] });
    res.end(readFileSync(full));
  }

  function api(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const q = url.searchParams;
    const path = url.pathname;
    if (req.method === "POST" && path === "/api/replay") return void replay(req, res);
    if (req.method !== "GET") return sendJson(res, 405, { error: "method not allowed" });
    if (path === "/api/meta") return sendJson(res, 200, { db: store.path, lastId: store.lastId(), replay: !!o.replay, kinds: rules.map((r) => r.kind) });
    if (path === "/api/exchanges") {
      const filter = filterFromQuery(q);
      const limit = intParam(q, "limit", 200, 1, MAX_PAGE)!;
      const before = intParam(q, "before", null, 1, Number.MAX_SAFE_INTEGER);
      const items = store.pageBefore(filter, before, limit);
      return sendJson(res, 200, { items, next: items.length === limit ? items[items.length - 1].id : null });
    }
    const one = /^\/api\/exchanges\/(\d+)$/.exec(path);
    if (one) {
      const id = Number(one[1]);
      const ex = store.get(id);
      if (!ex) return sendJson(res, 404, { error: `no exchange with ID ${id}` });
      const kinds = store.list({ ids: [id] })[0]?.flags ?? [];
      const bodies = {
        request: protobufText(ex.request.body, contentType(ex.request.headers)),
        response: ex.response ? protobufText(ex.response.body, contentType(ex.response.headers)) : null,
      };
      return sendJson(res, 200, { ...showData(ex), flags: explainFlags(ex, kinds, facts), command: replayCommand(ex), mutation: mutationReason(ex), bodies });
    }
    if (path === "/api/timeline") {
      const items = store.pageBefore(filterFromQuery(q), null, intParam(q, "limit", 2000, 1, MAX_PAGE)!);
      const retryAfter: Record<number, string> = {};
      for (const r of items) {
        if (r.status !== 429) continue;
        const h = store.get(r.id)?.response?.headers ?? {};
        const v = Object.entries(h).find(([k]) => k.toLowerCase() === "retry-after")?.[1];
        if (v !== undefined) retryAfter[r.id] = Array.isArray(v) ? v[0] : v;
      }
      return sendJson(res, 200, { items, retryAfter });
    }
    if (path === "/api/flags") return sendJson(res, 200, { flags: flags(filterFromQuery(q)) });
    if (path === "/api/stats") return sendJson(res, 200, { groups: store.latencyGroups(filterFromQuery(q), [0.5, 0.9, 0.99]) });
    if (path === "/api/events") return events(req, res, filterFromQuery(q), intParam(q, "after", store.lastId(), 0, Number.MAX_SAFE_INTEGER)!);
    if (path === "/api/export.har") return har(res, filterFromQuery(q));
    return sendJson(res, 404, { error: `no API ${path}` });
  }

  /** Each flag kind among the matching exchanges, with its first example explained (evidence and fix). */
  function flags(filter: ListFilter) {
    return store.flagSummary(filter, 20).map((s) => {
      const rule = rules.find((r) => r.kind === s.kind);
      const example = s.ids.length ? store.get(s.ids[0]) : null;
      const explained = example ? explainFlags(example, [s.kind], facts)[0] : null;
      return { ...s, severity: rule?.severity ?? "info", help: rule?.help ?? "", message: explained?.message ?? "", advice: explained?.advice ?? [] };
    });
  }

  function events(req: IncomingMessage, res: ServerResponse, filter: ListFilter, after: number): void {
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/event-stream; charset=utf-8", connection: "keep-alive" });
    res.write(`retry: 1000\n: kubewire live from id ${after}\n\n`);
    const client: Client = { res, filter, last: after };
    clients.add(client);
    req.on("close", () => clients.delete(client));
  }

  let lastSeen = store.lastId();
  const timer = setInterval(() => {
    let last: number;
    try {
      last = store.lastId();
    } catch {
      return; // a busy or locked file: the next tick tries again
    }
    const heartbeat = last === lastSeen;
    lastSeen = last;
    for (const c of clients) {
      if (heartbeat || c.last >= last) continue;
      const rows = store.list({ ...c.filter, afterId: c.last });
      c.last = last;
      if (rows.length) c.res.write(`event: exchanges\ndata: ${JSON.stringify(rows)}\n\n`);
      const kinds = [...new Set(rows.flatMap((r) => r.flags))];
      if (kinds.length) c.res.write(`event: flags\ndata: ${JSON.stringify(kinds)}\n\n`);
    }
  }, o.pollMs ?? POLL_MS);
  timer.unref();

  function har(res: ServerResponse, filter: ListFilter): void {
    res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8", "content-disposition": 'attachment; filename="kubewire.har"' });
    res.write(`{"log":{"version":${JSON.stringify(HAR_VERSION)},"creator":{"name":"kubewire","version":"ui"},"pages":[],"entries":[`);
    let n = 0;
    for (const ex of store.iterate(filter)) {
      const entry = toHarEntry(ex);
      if (entry) res.write(`${n++ ? "," : ""}\n${JSON.stringify(entry)}`);
    }
    res.end("\n]}}\n");
  }

  async function replay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (!(req.headers["content-type"] ?? "").startsWith("application/json")) return sendJson(res, 415, { error: "send the replay request as application/json" });
      const body = JSON.parse((await readBody(req)) || "{}") as { id?: unknown; context?: unknown; as?: unknown; groups?: unknown; confirm?: unknown };
      if (typeof body.id !== "number") throw new UserError("id must be an exchange ID");
      const ex = store.get(body.id);
      if (!ex) return sendJson(res, 404, { error: `no exchange with ID ${body.id}` });
      const as = typeof body.as === "string" && body.as.trim() ? body.as.trim() : undefined;
      const groups = Array.isArray(body.groups) ? body.groups.filter((g): g is string => typeof g === "string" && g.trim() !== "") : [];
      const plan = planReplay(ex, { allowMutations: body.confirm === true, watchSeconds: 2, as, asGroups: groups });
      if (plan.kind === "refuse") {
        const reason = plan.reason.replace("add --allow-mutations to replay it", "confirm to replay it");
        return sendJson(res, 409, { error: reason, needsConfirmation: !!mutationReason(ex) && body.confirm !== true });
      }
      if (!o.replay) return sendJson(res, 501, { error: "replay is not available from this server" });
      const context = typeof body.context === "string" && body.context.trim() ? body.context.trim() : undefined;
      const kinds = store.list({ ids: [ex.id!] })[0]?.flags ?? [];
      const run = await o.replay([{ original: ex, flags: kinds, plan }], context);
      sendJson(res, 200, { context: run.context, user: run.user, changes: plan.changes, comparison: run.comparisons[0] });
    } catch (err) {
      sendJson(res, err instanceof UserError || err instanceof SyntaxError ? 400 : 500, { error: (err as Error).message });
    }
  }

  await new Promise<void>((done, fail) => {
    server.once("error", (err: NodeJS.ErrnoException) => fail(err.code === "EADDRINUSE" ? new UserError(`--listen ${host}:${o.port}: that port is in use`) : err));
    server.listen(o.port ?? 0, host, () => done());
  });
  const port = (server.address() as AddressInfo).port;
  guard = new Guard(token, host, port, !!o.allowRemote && (host === "0.0.0.0" || host === "::"));
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const origin = `http://${shownHost}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    port,
    close: async () => {
      clearInterval(timer);
      for (const c of clients) c.res.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      store.close();
    },
  };
}

function contentType(h: Record<string, string | string[]>): string | undefined {
  const v = Object.entries(h).find(([k]) => k.toLowerCase() === "content-type")?.[1];
  return Array.isArray(v) ? v[0] : v;
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  res.writeHead(code, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(value));
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}

function readBody(req: IncomingMessage, max = 64 * 1024): Promise<string> {
  return new Promise((done, fail) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        fail(new UserError("request body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
    req.on("error", fail);
  });
}
