// Request handling shared by every demo listener: authentication, impersonation, APF headers, RBAC,
// scripted failures by namespace, non-resource paths, discovery, and the REST verbs.
import { randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { RequestInfo } from "../types.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, findResource, servesGroupVersion, type ResourceDef } from "./discovery.js";
import { answerWithoutUpgrade, chooseProtocol, refuseMissingContainer, rejectUpgrade, serveSpdyEcho, serveWebSocketExec, upgradesHere } from "./exec.js";
import { serveLogs } from "./logs.js";
import { decodeProtobuf, isProtobuf } from "./proto.js";
import { impersonate } from "./impersonation.js";
import { authorize, forbiddenMessage, rulesFor, storedBindings, type Identity } from "./rbac.js";
import { serviceAccountJwt } from "./tokens.js";
import { parseRequestInfo } from "../proxy/request-info.js";
import { negotiate, readBody, ResponseStream, sendJson, sendNotAcceptable, sendStatus, sendText } from "./respond.js";
import * as st from "./status.js";
import { jsonPatch, matchesFields, matchesLabels, mergePatch, resourceKey, rfc3339, type KObject, type Store } from "./store.js";
import { table, tableRow, type IncludeObject } from "./tables.js";
import { serveWatch } from "./watch.js";

export interface ApiContext {
  store: Store;
  /** bearer token → identity */
  tokens: Map<string, Identity>;
  /** "user:password" → identity */
  basic: Map<string, Identity>;
  slowMs: number;
  bigListBytes: number;
  /** "host:port" the cluster reports in /api serverAddressByClientCIDRs */
  serverAddress: () => string;
  /** registers a cleanup run by close(); returns the unregister function */
  track: (stop: () => void) => () => void;
  countRequest: () => void;
}

const PUBLIC_PATHS = new Set(["/healthz", "/livez", "/readyz", "/version", "/version/"]);
const ANONYMOUS: Identity = { username: "system:anonymous", groups: ["system:unauthenticated"] };
const READY_CHECKS = [
  "ping", "log", "etcd", "etcd-readiness", "informer-sync",
  "poststarthook/start-apiserver-admission-initializer", "poststarthook/generic-apiserver-start-informers",
  "poststarthook/priority-and-fairness-config-consumer", "poststarthook/priority-and-fairness-filter",
  "poststarthook/storage-object-count-tracker-hook", "poststarthook/start-apiextensions-informers",
  "poststarthook/start-apiextensions-controllers", "poststarthook/crd-informer-synced",
  "poststarthook/start-system-namespaces-controller", "poststarthook/start-cluster-authentication-info-controller",
  "poststarthook/start-kube-apiserver-identity-lease-controller", "poststarthook/start-legacy-token-tracking-controller",
  "poststarthook/start-service-ip-repair-controllers", "poststarthook/rbac/bootstrap-roles",
  "poststarthook/scheduling/bootstrap-system-priority-classes", "poststarthook/priority-and-fairness-config-producer",
  "poststarthook/bootstrap-controller", "poststarthook/aggregator-reload-proxy-client-cert",
  "poststarthook/start-kube-aggregator-informers", "poststarthook/apiservice-status-local-available-controller",
  "poststarthook/apiservice-registration-controller", "poststarthook/apiservice-discovery-controller",
  "poststarthook/kube-apiserver-autoregistration", "autoregister-completion",
  "poststarthook/apiservice-openapi-controller", "poststarthook/apiservice-openapiv3-controller", "shutdown",
];
const VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "70d3cc986aa8221cd1dfb1121852688902d3bf53",
  gitTreeState: "clean",
  buildDate: "2024-12-11T17:59:15Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};
const THROTTLE_TEXT = "Too many requests, please try again later.\n";
const BIG_ITEM_DATA = "x".repeat(4000);

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class DemoApi {
  /** flow schema / priority level uids, per cluster as on a real one */
  private readonly apf = {
    exempt: { fs: randomUUID(), pl: randomUUID() },
    global: { fs: randomUUID(), pl: randomUUID() },
    probes: { fs: randomUUID(), pl: randomUUID() },
  };

  constructor(private readonly ctx: ApiContext) {}

  private authenticate(req: IncomingMessage): Identity | "invalid" | undefined {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const peer = socket.getPeerCertificate?.();
      const cn = peer?.subject?.CN;
      if (cn) {
        const o = peer.subject.O;
        const orgs = Array.isArray(o) ? o : o ? [o] : [];
        return { username: String(cn), groups: [...orgs.map(String), "system:authenticated"] };
      }
    }
    const auth = req.headers.authorization;
    if (!auth) return undefined;
    const [scheme, value = ""] = auth.split(" ", 2);
    if (scheme.toLowerCase() === "bearer") return this.ctx.tokens.get(value.trim()) ?? "invalid";
    if (scheme.toLowerCase() === "basic") return this.ctx.basic.get(Buffer.from(value, "base64").toString("utf8")) ?? "invalid";
    return "invalid";
  }

  private baseHeaders(): Record<string, string> {
    return { "Audit-Id": randomUUID(), "Cache-Control": "no-cache, private" };
  }

  private apfHeaders(id: Identity, path: string): Record<string, string> {
    const flow = PUBLIC_PATHS.has(path) && id.username === "system:anonymous" ? this.apf.probes : id.groups.includes("system:masters") ? this.apf.exempt : this.apf.global;
    return { "X-Kubernetes-Pf-Flowschema-Uid": flow.fs, "X-Kubernetes-Pf-Prioritylevel-Uid": flow.pl };
  }

  /** Authentication and authorization shared by plain and upgrade requests. */
  private admit(req: IncomingMessage): { ok: true; id: Identity; info: RequestInfo; url: URL; headers: Record<string, string> } | { ok: false; status: st.Status | "throttled"; headers: Record<string, string> } {
    this.ctx.countRequest();
    const url = new URL(req.url ?? "/", "https://demo.invalid");
    const headers = this.baseHeaders();
    let id = this.authenticate(req);
    if (id === "invalid" || (id === undefined && !PUBLIC_PATHS.has(url.pathname))) return { ok: false, status: st.unauthorized(), headers };
    id ??= ANONYMOUS;
    const acting = impersonate(req, id);
    if (!("username" in acting)) return { ok: false, status: acting, headers };
    id = acting;
    Object.assign(headers, this.apfHeaders(id, url.pathname));
    const info = parseRequestInfo(req.method ?? "GET", url.pathname, url.search.slice(1));
    if (info.isResourceRequest && info.namespace === "throttled") return { ok: false, status: "throttled", headers: { ...headers, "Retry-After": "1" } };
    const decision = id === ANONYMOUS && PUBLIC_PATHS.has(url.pathname) ? { allowed: true } : authorize(id, info, url.pathname, storedBindings(this.ctx.store));
    if (!decision.allowed) {
      const name = info.isResourceRequest ? info.name : "";
      return { ok: false, status: st.forbidden(info.apiGroup, info.isResourceRequest ? info.resource : "", name, forbiddenMessage(id, info, url.pathname)), headers: { ...headers, "X-Content-Type-Options": "nosniff" } };
    }
    return { ok: true, id, info, url, headers };
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const a = this.admit(req);
    if (!a.ok) {
      if (a.status === "throttled") sendText(res, 429, THROTTLE_TEXT, a.headers);
      else sendStatus(res, a.status, a.headers);
      return;
    }
    const run = (): void => {
      this.route(req, res, a.id, a.info, a.url, a.headers).catch((err: unknown) => {
        sendStatus(res, st.internalError(err instanceof Error ? err.message : String(err)), a.headers);
      });
    };
    const ns = a.info.namespace;
    if (a.info.isResourceRequest && ns === "hang") {
      return; // never answer; the socket stays until the client (or close()) ends it
    }
    if (a.info.isResourceRequest && ns === "broken") {
      sendStatus(res, st.internalError("etcdserver: request timed out"), a.headers);
      return;
    }
    if (a.info.isResourceRequest && ns === "slow") {
      const timer = setTimeout(() => {
        untrack();
        run();
      }, this.ctx.slowMs);
      const untrack = this.ctx.track(() => clearTimeout(timer));
      res.on("close", () => {
        clearTimeout(timer);
        untrack();
      });
      return;
    }
    run();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    if (!upgradesHere(req)) return answerWithoutUpgrade(req, socket, (q, r) => this.handleRequest(q, r));
    const untrack = this.ctx.track(() => socket.destroy());
    socket.on("close", untrack);
    const a = this.admit(req);
    if (!a.ok) {
      if (a.status === "throttled") {
        rejectUpgrade(socket, 429, "Too Many Requests", THROTTLE_TEXT, { ...a.headers, "Content-Type": "text/plain; charset=utf-8" });
      } else rejectUpgrade(socket, a.status.code, reasonPhrase(a.status.code), JSON.stringify(a.status), a.headers);
      return;
    }
    const { info, url, headers } = a;
    const fail = (s: st.Status): void => rejectUpgrade(socket, s.code, reasonPhrase(s.code), JSON.stringify(s), headers);
    if (!info.isResourceRequest || info.resource !== "pods" || !["exec", "attach"].includes(info.subresource)) {
      fail(st.badRequest("the server does not allow upgrades on this path"));
      return;
    }
    const pod = this.ctx.store.get("/pods", info.namespace, info.name);
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

  private async route(req: IncomingMessage, res: ServerResponse, id: Identity, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (!info.isResourceRequest) return this.nonResource(req, res, info, path, url, headers);
    const base = findResource(info.apiGroup, info.apiVersion, info.resource);
    if (!base || !servesGroupVersion(info.apiGroup, info.apiVersion)) return sendStatus(res, st.pathNotFound(), headers);
    let def: ResourceDef = base;
    if (info.subresource) {
      const sub = findResource(info.apiGroup, info.apiVersion, `${info.resource}/${info.subresource}`);
      if (!sub) return sendStatus(res, st.pathNotFound(), headers);
      def = sub;
    }
    if (base.deprecated) headers.Warning = `299 - ${JSON.stringify(base.deprecated)}`;
    if ((info.namespace && !base.namespaced && info.resource !== "namespaces") || (!info.namespace && base.namespaced && !["list", "watch"].includes(info.verb))) {
      return sendStatus(res, st.pathNotFound(), headers);
    }
    const listLike = info.verb === "list" || info.verb === "watch" || info.verb === "deletecollection";
    const verbForCheck = info.verb === "watch" ? "watch" : info.verb;
    if (!def.verbs.includes(verbForCheck) && !(info.subresource && ["get", "create"].includes(info.verb) && def.verbs.includes(info.verb))) {
      const action = { list: "list", watch: "watch", deletecollection: "delete", delete: "delete", update: "update", patch: "patch", create: "create", get: "get" }[info.verb] ?? info.verb;
      return sendStatus(res, st.methodNotSupported(info.apiGroup, info.resource, action), headers);
    }
    if (def.name.endsWith("reviews")) return this.review(req, res, id, def, info, headers);
    if (info.subresource) return this.subresource(req, res, def, info, url, headers);
    if (info.namespace === "big" && info.resource === "configmaps" && info.verb === "list") return this.bigList(req, res, url, headers);
    if (listLike) {
      if (info.verb === "deletecollection") return this.deleteCollection(res, base, info, url, headers);
      return this.list(req, res, base, info, url, headers);
    }
    switch (info.verb) {
      case "get": return this.get(req, res, base, info, url, headers);
      case "create": return this.create(req, res, base, info, url, headers);
      case "update": return this.update(req, res, base, info, url, headers);
      case "patch": return this.patch(req, res, base, info, url, headers);
      case "delete": return this.delete(req, res, base, info, url, headers);
    }
    sendStatus(res, st.methodNotSupported(info.apiGroup, info.resource, info.verb), headers);
  }

  private nonResource(req: IncomingMessage, res: ServerResponse, info: RequestInfo, path: string, url: URL, headers: Record<string, string>): void {
    const json = (body: unknown): void => {
      if (!negotiate(req.headers.accept, false).ok) return sendNotAcceptable(res);
      sendJson(res, 200, body, headers);
    };
    if (path === "/version") {
      const text = JSON.stringify(VERSION, null, 2);
      res.writeHead(200, { "Content-Type": "application/json", ...headers, "Content-Length": Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const health = /^\/(healthz|livez|readyz)(\/(.+))?$/.exec(path);
    if (health) {
      const checks = READY_CHECKS.filter((c) => (health[1] === "readyz" ? true : !["informer-sync", "shutdown", "etcd-readiness"].includes(c)));
      if (health[3]) {
        if (!checks.includes(health[3])) return sendText(res, 404, "404 page not found\n", headers);
        return sendText(res, 200, "ok", headers);
      }
      if (url.searchParams.has("verbose")) {
        return sendText(res, 200, checks.map((c) => `[+]${c} ok\n`).join("") + `${health[1]} check passed\n`, headers);
      }
      return sendText(res, 200, "ok", headers);
    }
    if (path === "/api") return json(apiVersions(this.ctx.serverAddress()));
    if (path === "/apis") return json(apiGroupList());
    if (info.apiPrefix === "apis" && info.apiGroup && !info.apiVersion) {
      const g = apiGroup(info.apiGroup);
      return g ? json(g) : sendStatus(res, st.pathNotFound(), headers);
    }
    if (info.apiPrefix && info.apiVersion && servesGroupVersion(info.apiGroup, info.apiVersion) && (info.apiPrefix === "api") === (info.apiGroup === "")) {
      return json(apiResourceList(info.apiGroup, info.apiVersion));
    }
    sendStatus(res, st.pathNotFound(), headers);
  }

  // ---- object helpers

  private key(def: ResourceDef): string {
    return resourceKey(def.group, def.name.split("/")[0]);
  }

  private typed(def: ResourceDef, o: KObject): KObject {
    return { ...o, apiVersion: def.group ? `${def.group}/${def.version}` : def.version, kind: def.kind };
  }

  private include(url: URL): IncludeObject {
    const v = url.searchParams.get("includeObject");
    return v === "None" || v === "Object" ? v : "Metadata";
  }

  private async body(req: IncomingMessage): Promise<Obj | st.Status> {
    const raw = await readBody(req);
    if (isProtobuf(raw)) {
      const decoded = decodeProtobuf(raw);
      return decoded ?? st.unsupportedMediaType(["application/json", "application/yaml"]);
    }
    const ct = String(req.headers["content-type"] ?? "application/json").split(";")[0].trim();
    if (!["application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json", ""].includes(ct)) {
      return st.unsupportedMediaType(["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]);
    }
    try {
      return JSON.parse(raw.toString("utf8")) as Obj;
    } catch (err) {
      return st.badRequest(`the server rejected our request due to an error in our request: ${(err as Error).message}`);
    }
  }

  private answer(req: IncomingMessage, res: ServerResponse, def: ResourceDef, o: KObject, code: number, url: URL, headers: Record<string, string>): void {
    const n = negotiate(req.headers.accept, true);
    if (!n.ok) return sendNotAcceptable(res);
    if (n.table) return sendJson(res, code, table(this.key(def), [o], { resourceVersion: o.metadata.resourceVersion }, this.include(url)), headers);
    sendJson(res, code, this.typed(def, o), headers);
  }

  private get(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): void {
    if (info.namespace === "big" && info.resource === "configmaps") {
      const m = /^big-(\d+)$/.exec(info.name);
      if (m && Number(m[1]) < this.bigCount()) return this.answer(req, res, def, bigItem(Number(m[1])), 200, url, headers);
    }
    const o = this.ctx.store.get(this.key(def), def.namespaced ? info.namespace : "", info.name);
    if (!o) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
    this.answer(req, res, def, o, 200, url, headers);
  }

  private selected(def: ResourceDef, info: RequestInfo, url: URL): (o: KObject) => boolean {
    const ns = def.namespaced ? info.namespace : "";
    const labels = url.searchParams.get("labelSelector");
    const fields = url.searchParams.get("fieldSelector");
    return (o) => (!ns || o.metadata.namespace === ns) && matchesLabels(o.metadata.labels, labels) && matchesFields(o, fields);
  }

  private list(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): void {
    const n = negotiate(req.headers.accept, true);
    if (!n.ok) return sendNotAcceptable(res);
    const key = this.key(def);
    const filter = this.selected(def, info, url);
    if (info.verb === "watch") {
      return serveWatch(res, this.ctx.store, {
        key,
        filter,
        resourceVersion: url.searchParams.get("resourceVersion") ?? "",
        asTable: n.table,
        include: this.include(url),
        timeoutSeconds: Number(url.searchParams.get("timeoutSeconds") ?? 0) || 0,
        track: this.ctx.track,
        protobuf: n.protobuf,
        apiVersion: def.group ? `${def.group}/${def.version}` : def.version,
        kind: def.kind,
        bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
        expire: info.namespace === "expired",
      }, headers);
    }
    const rv = this.ctx.store.resourceVersion;
    let items = this.ctx.store.list(key, def.namespaced ? info.namespace : "").filter(filter);
    const cont = url.searchParams.get("continue");
    if (cont) {
      let start = "";
      try {
        start = String(JSON.parse(Buffer.from(cont, "base64").toString("utf8")).start ?? "");
      } catch {
        return sendStatus(res, st.badRequest("continue key is not valid: illegal base64 data at input byte 0"), headers);
      }
      items = items.filter((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}` > start);
    }
    const meta: Record<string, unknown> = { resourceVersion: rv };
    const limit = Number(url.searchParams.get("limit") ?? 0) || 0;
    if (limit > 0 && items.length > limit) {
      const last = items[limit - 1];
      meta.continue = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(rv), start: `${last.metadata.namespace ?? ""}/${last.metadata.name}` })).toString("base64");
      meta.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    if (n.table) return sendJson(res, 200, table(key, items, meta, this.include(url)), headers);
    const apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
    sendJson(res, 200, { kind: `${def.kind}List`, apiVersion, metadata: meta, items: items.map(stripType) }, headers);
  }

  private async create(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    const body = await this.body(req);
    if (isStatus(body)) return sendStatus(res, body, headers);
    const o = body as KObject;
    o.metadata ??= { name: "" };
    if (!o.metadata.name && o.metadata.generateName) o.metadata.name = o.metadata.generateName + randomBytes(4).toString("hex").slice(0, 5);
    if (!o.metadata.name) return sendStatus(res, st.invalid(def.kind, "", def.group, [{ field: "metadata.name", message: "Required value: name or generateName is required" }]), headers);
    if (def.namespaced) {
      if (o.metadata.namespace && o.metadata.namespace !== info.namespace) {
        return sendStatus(res, st.badRequest("the namespace of the provided object does not match the namespace sent on the request"), headers);
      }
      o.metadata.namespace = info.namespace;
      if (!this.ctx.store.get("/namespaces", "", info.namespace)) return sendStatus(res, st.notFound("", "namespaces", info.namespace), headers);
    } else delete o.metadata.namespace;
    const key = this.key(def);
    if (this.ctx.store.get(key, o.metadata.namespace ?? "", o.metadata.name)) return sendStatus(res, st.alreadyExists(def.group, def.name, o.metadata.name), headers);
    defaults(def, o);
    const typed = this.typed(def, o);
    if (url.searchParams.get("dryRun") === "All") {
      typed.metadata.uid = randomUUID();
      typed.metadata.creationTimestamp = rfc3339(Date.now());
      return this.answer(req, res, def, typed, 201, url, headers);
    }
    this.answer(req, res, def, this.ctx.store.create(key, typed), 201, url, headers);
  }

  private async update(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    const body = await this.body(req);
    if (isStatus(body)) return sendStatus(res, body, headers);
    const o = body as KObject;
    const key = this.key(def);
    const ns = def.namespaced ? info.namespace : "";
    if (o.metadata?.name && o.metadata.name !== info.name) return sendStatus(res, st.badRequest("the name of the object (" + o.metadata.name + ") does not match the name on the URL (" + info.name + ")"), headers);
    const current = this.ctx.store.get(key, ns, info.name);
    if (!current) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
    if (o.metadata?.resourceVersion && o.metadata.resourceVersion !== current.metadata.resourceVersion) return sendStatus(res, st.conflict(def.group, def.name, info.name), headers);
    const next = this.typed(def, { ...o, metadata: { ...o.metadata, name: info.name, ...(ns ? { namespace: ns } : {}), uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp } });
    if (url.searchParams.get("dryRun") === "All") return this.answer(req, res, def, next, 200, url, headers);
    this.answer(req, res, def, this.ctx.store.update(key, next), 200, url, headers);
  }

  private async patch(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    const ct = String(req.headers["content-type"] ?? "").split(";")[0].trim();
    const types = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];
    if (!types.includes(ct)) return sendStatus(res, st.unsupportedMediaType(types), headers);
    const body = await this.body(req);
    if (isStatus(body)) return sendStatus(res, body, headers);
    const key = this.key(def);
    const ns = def.namespaced ? info.namespace : "";
    const current = this.ctx.store.get(key, ns, info.name);
    if (!current) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
    let next: KObject;
    try {
      next = (ct === "application/json-patch+json" ? jsonPatch(current, body as never) : mergePatch(current, body)) as KObject;
    } catch (err) {
      return sendStatus(res, st.failure(422, "Invalid", (err as Error).message), headers);
    }
    next.metadata = { ...next.metadata, name: info.name, ...(ns ? { namespace: ns } : {}), uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp };
    if (url.searchParams.get("dryRun") === "All") return this.answer(req, res, def, this.typed(def, next), 200, url, headers);
    this.answer(req, res, def, this.ctx.store.update(key, this.typed(def, next)), 200, url, headers);
  }

  private async delete(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    await readBody(req).catch(() => Buffer.alloc(0));
    const key = this.key(def);
    const ns = def.namespaced ? info.namespace : "";
    if (url.searchParams.get("dryRun") === "All") {
      const o = this.ctx.store.get(key, ns, info.name);
      return o ? this.answer(req, res, def, o, 200, url, headers) : sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
    }
    const o = this.ctx.store.delete(key, ns, info.name);
    if (!o) return sendStatus(res, st.notFound(def.group, def.name, info.name), headers);
    this.answer(req, res, def, o, 200, url, headers);
  }

  private deleteCollection(res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): void {
    const key = this.key(def);
    const filter = this.selected(def, info, url);
    const gone = this.ctx.store.list(key, def.namespaced ? info.namespace : "").filter(filter);
    for (const o of gone) this.ctx.store.delete(key, o.metadata.namespace ?? "", o.metadata.name);
    const apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
    sendJson(res, 200, { kind: `${def.kind}List`, apiVersion, metadata: { resourceVersion: this.ctx.store.resourceVersion }, items: gone.map(stripType) }, headers);
  }

  private async subresource(req: IncomingMessage, res: ServerResponse, def: ResourceDef, info: RequestInfo, url: URL, headers: Record<string, string>): Promise<void> {
    const base = findResource(def.group, def.version, info.resource)!;
    const key = this.key(base);
    const ns = base.namespaced ? info.namespace : "";
    const o = this.ctx.store.get(key, ns, info.name);
    if (!o) return sendStatus(res, st.notFound(base.group, base.name, info.name), headers);
    switch (info.subresource) {
      case "log": {
        const containers: Obj[] = (o.spec as Obj)?.containers ?? [];
        const container = url.searchParams.get("container") ?? "";
        if (container && !containers.some((c) => c.name === container)) {
          return sendStatus(res, st.badRequest(`container ${container} is not valid for pod ${info.name}`), headers);
        }
        if (!container && containers.length > 1) {
          return sendStatus(res, st.badRequest(`a container name must be specified for pod ${info.name}, choose one of: [${containers.map((c) => c.name).join(" ")}]`), headers);
        }
        const tail = url.searchParams.get("tailLines");
        return serveLogs(res, o, {
          tailLines: tail === null ? undefined : Number(tail),
          timestamps: url.searchParams.get("timestamps") === "true",
          follow: url.searchParams.get("follow") === "true",
          track: this.ctx.track,
        }, headers);
      }
      case "token": {
        // serviceaccounts/token: a TokenRequest for the service account, answered with a token the cluster now accepts
        const body = await this.body(req);
        if (isStatus(body)) return sendStatus(res, body, headers);
        const spec = ((body as Obj).spec ?? {}) as Obj;
        const seconds = Number(spec.expirationSeconds ?? 3600) || 3600;
        const token = serviceAccountJwt(info.namespace, info.name, seconds, false);
        this.ctx.tokens.set(token, { username: `system:serviceaccount:${info.namespace}:${info.name}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${info.namespace}`, "system:authenticated"] });
        return sendJson(res, 201, {
          kind: "TokenRequest",
          apiVersion: "authentication.k8s.io/v1",
          metadata: { name: info.name, namespace: info.namespace, creationTimestamp: null },
          spec: { audiences: spec.audiences ?? ["https://kubernetes.default.svc.cluster.local"], expirationSeconds: seconds, boundObjectRef: spec.boundObjectRef ?? null },
          status: { token, expirationTimestamp: new Date(Date.now() + seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z") },
        }, headers);
      }
      case "exec":
      case "attach":
        return sendStatus(res, st.badRequest("Upgrade request required"), headers);
      case "status":
        if (info.verb === "get") return this.answer(req, res, base, o, 200, url, headers);
        return info.verb === "update" ? this.update(req, res, base, info, url, headers) : this.patch(req, res, base, info, url, headers);
      case "scale": {
        const scale = (d: KObject): Obj => ({
          kind: "Scale",
          apiVersion: "autoscaling/v1",
          metadata: { name: d.metadata.name, namespace: d.metadata.namespace, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion, creationTimestamp: d.metadata.creationTimestamp },
          spec: { replicas: (d.spec as Obj)?.replicas ?? 0 },
          status: { replicas: (d.status as Obj)?.replicas ?? 0, selector: Object.entries(((d.spec as Obj)?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(",") },
        });
        if (info.verb === "get") return sendJson(res, 200, scale(o), headers);
        const body = await this.body(req);
        if (isStatus(body)) return sendStatus(res, body, headers);
        const next = mergePatch(scale(o), body) as Obj;
        const replicas = Number(next.spec?.replicas ?? 0);
        const spec = { ...(o.spec as Obj), replicas };
        const status = { ...(o.status as Obj), replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas };
        return sendJson(res, 200, scale(this.ctx.store.update(key, { ...o, spec, status })), headers);
      }
    }
    sendStatus(res, st.pathNotFound(), headers);
  }

  private async review(req: IncomingMessage, res: ServerResponse, id: Identity, def: ResourceDef, info: RequestInfo, headers: Record<string, string>): Promise<void> {
    const body = await this.body(req);
    if (isStatus(body)) return sendStatus(res, body, headers);
    const out: Obj = { kind: def.kind, apiVersion: `${def.group}/${def.version}`, metadata: { creationTimestamp: null } };
    const userInfo = (who: Identity): Obj => ({ username: who.username, groups: who.groups });
    const check = (who: Identity, spec: Obj): Obj => {
      const ra = spec.resourceAttributes as Obj | undefined;
      const nra = spec.nonResourceAttributes as Obj | undefined;
      const attrs: RequestInfo = ra
        ? { isResourceRequest: true, verb: ra.verb ?? "", apiPrefix: ra.group ? "apis" : "api", apiGroup: ra.group ?? "", apiVersion: ra.version ?? "", namespace: ra.namespace ?? "", resource: ra.resource ?? "", subresource: ra.subresource ?? "", name: ra.name ?? "" }
        : { isResourceRequest: false, verb: nra?.verb ?? "", apiPrefix: "", apiGroup: "", apiVersion: "", namespace: "", resource: "", subresource: "", name: "" };
      const d = authorize(who, attrs, nra?.path ?? "", storedBindings(this.ctx.store));
      return d.reason ? { allowed: d.allowed, reason: d.reason } : { allowed: d.allowed };
    };
    switch (def.name) {
      case "selfsubjectreviews":
        out.status = { userInfo: userInfo(id) };
        break;
      case "selfsubjectaccessreviews":
        out.spec = body.spec ?? {};
        out.status = check(id, out.spec);
        break;
      case "selfsubjectrulesreviews": {
        const namespace = String(body.spec?.namespace ?? "");
        out.spec = { namespace };
        out.status = { ...rulesFor(id, namespace), incomplete: false };
        break;
      }
      case "subjectaccessreviews":
      case "localsubjectaccessreviews": {
        out.spec = body.spec ?? {};
        if (def.name === "localsubjectaccessreviews") out.metadata.namespace = info.namespace;
        out.status = check({ username: String(out.spec.user ?? ""), groups: (out.spec.groups as string[]) ?? [] }, out.spec);
        break;
      }
      case "tokenreviews": {
        const token = String(body.spec?.token ?? "");
        const who = this.ctx.tokens.get(token);
        out.spec = body.spec ?? {};
        out.status = who ? { authenticated: true, user: userInfo(who), audiences: ["https://kubernetes.default.svc.cluster.local"] } : { user: {}, error: "[invalid bearer token, Token has been invalidated]" };
        break;
      }
    }
    sendJson(res, 201, out, headers);
  }

  // ---- the big namespace

  private bigCount(): number {
    return Math.max(1, Math.ceil(this.ctx.bigListBytes / (JSON.stringify(stripType(bigItem(0))).length + 1)));
  }

  /** Streams the ConfigMapList (or Table) of namespace "big" in chunks, never holding it whole. */
  private async bigList(req: IncomingMessage, res: ServerResponse, url: URL, headers: Record<string, string>): Promise<void> {
    const n = negotiate(req.headers.accept, true);
    if (!n.ok) return sendNotAcceptable(res);
    const total = this.bigCount();
    let start = 0;
    const cont = url.searchParams.get("continue");
    if (cont) {
      try {
        start = Number(JSON.parse(Buffer.from(cont, "base64").toString("utf8")).index ?? 0) || 0;
      } catch {
        return sendStatus(res, st.badRequest("continue key is not valid: illegal base64 data at input byte 0"), headers);
      }
    }
    const limit = Number(url.searchParams.get("limit") ?? 0) || 0;
    const end = limit > 0 ? Math.min(total, start + limit) : total;
    const rv = this.ctx.store.resourceVersion;
    const meta: Record<string, unknown> = { resourceVersion: rv };
    if (end < total) {
      meta.continue = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(rv), index: end })).toString("base64");
      meta.remainingItemCount = total - end;
    }
    const out = new ResponseStream(res, 200, { "Content-Type": "application/json", ...headers });
    const include = this.include(url);
    const head = n.table
      ? JSON.stringify(table("/configmaps", [], meta, include)).replace(/"rows":\[\]\}$/, '"rows":[')
      : `{"kind":"ConfigMapList","apiVersion":"v1","metadata":${JSON.stringify(meta)},"items":[`;
    try {
      await out.write(head);
      let buf = "";
      for (let i = start; i < end; i++) {
        const item = bigItem(i);
        buf += (i > start ? "," : "") + JSON.stringify(n.table ? tableRow("/configmaps", item, include) : stripType(item));
        if (buf.length >= 64 * 1024) {
          await out.write(buf);
          buf = "";
        }
      }
      await out.write(buf + "]}\n");
      await out.end();
    } catch {
      res.destroy();
    }
  }
}

function bigItem(i: number): KObject {
  const name = `big-${String(i).padStart(6, "0")}`;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "big", uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, resourceVersion: String(100 + i), creationTimestamp: "2025-01-01T00:00:00Z" },
    data: { index: String(i), payload: BIG_ITEM_DATA },
  };
}

function stripType(o: KObject): Obj {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function isStatus(x: unknown): x is st.Status {
  return !!x && typeof x === "object" && (x as Obj).kind === "Status" && typeof (x as Obj).code === "number";
}

/** Fields the apiserver's defaulting would fill for the kinds users create by hand. */
function defaults(def: ResourceDef, o: KObject): void {
  const spec = o.spec as Obj | undefined;
  if (def.name === "namespaces") {
    o.spec ??= { finalizers: ["kubernetes"] };
    o.status = { phase: "Active" };
    o.metadata.labels = { ...o.metadata.labels, "kubernetes.io/metadata.name": o.metadata.name };
  } else if (def.name === "secrets") {
    const sec = o as Obj;
    sec.type ??= "Opaque";
    if (sec.stringData) {
      sec.data = { ...sec.data, ...Object.fromEntries(Object.entries(sec.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
      delete sec.stringData;
    }
  } else if (def.name === "pods" && spec) {
    o.status = { phase: "Pending", qosClass: "BestEffort" };
    spec.restartPolicy ??= "Always";
  } else if (def.name === "deployments" && spec) {
    spec.replicas ??= 1;
    o.status = { observedGeneration: 1, replicas: spec.replicas, updatedReplicas: spec.replicas, readyReplicas: spec.replicas, availableReplicas: spec.replicas };
  } else if (def.name === "services" && spec) {
    spec.type ??= "ClusterIP";
    spec.clusterIP ??= `10.96.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  }
}

function reasonPhrase(code: number): string {
  return { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error" }[code] ?? "Error";
}
