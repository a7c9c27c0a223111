// DemoApi, what every demo listener calls: admission (admission.ts), then the failure namespace's
// script (failure-namespaces.ts) or the route to the handler with the request's one job: discovery and
// health (non-resource.ts), reviews, subresources, lists and watches, the object verbs (crud.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { Admission } from "./admission.js";
import type { ApiContext, Call } from "./api-context.js";
import { getBigItem, streamBigList } from "./big-namespace.js";
import { createObject, deleteCollection, deleteObject, getObject, patchObject, updateObject } from "./crud.js";
import { findResource, servesGroupVersion, type ResourceDef } from "./discovery.js";
import { scriptedBehaviour } from "./failure-namespaces.js";
import { listOrWatch } from "./list-watch.js";
import { serveNonResource } from "./non-resource.js";
import { sendStatus, sendText } from "./respond.js";
import { serveReview } from "./reviews.js";
import * as st from "./status.js";
import { serveSubresource } from "./subresources.js";
import { serveUpgrade } from "./upgrade.js";

export type { ApiContext } from "./api-context.js";

export class DemoApi {
  private readonly admission: Admission;

  constructor(private readonly ctx: ApiContext) {
    this.admission = new Admission(ctx);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const a = this.admission.admit(req);
    if (!a.ok) {
      if ("throttled" in a.status) sendText(res, 429, a.status.throttled, a.headers);
      else sendStatus(res, a.status, a.headers);
      return;
    }
    const call: Call = { req, res, id: a.id, info: a.info, url: a.url, headers: a.headers };
    const run = (): void => {
      this.route(call).catch((err: unknown) => {
        sendStatus(res, st.internalError(err instanceof Error ? err.message : String(err)), a.headers);
      });
    };
    const scripted = a.info.isResourceRequest ? scriptedBehaviour(a.info.namespace) : undefined;
    switch (scripted?.kind) {
      case "hang":
        return; // never answer; the socket stays until the client (or close()) ends it
      case "fail":
        return sendStatus(res, st.internalError(scripted.cause), a.headers);
      case "delay": {
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
    }
    run();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    serveUpgrade(this.ctx, this.admission, (q, r) => this.handleRequest(q, r), req, socket, head);
  }

  private async route(call: Call): Promise<void> {
    const { res, info, url, headers } = call;
    const ctx = this.ctx;
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (!info.isResourceRequest) return serveNonResource(ctx, call, path);
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
    const verbForCheck = info.verb === "watch" ? "watch" : info.verb;
    if (!def.verbs.includes(verbForCheck) && !(info.subresource && ["get", "create"].includes(info.verb) && def.verbs.includes(info.verb))) {
      const action = { list: "list", watch: "watch", deletecollection: "delete", delete: "delete", update: "update", patch: "patch", create: "create", get: "get" }[info.verb] ?? info.verb;
      return sendStatus(res, st.methodNotSupported(info.apiGroup, info.resource, action), headers);
    }
    if (def.name.endsWith("reviews")) return serveReview(ctx, call, def);
    if (info.subresource) return serveSubresource(ctx, call, def);
    const bigConfigmaps = scriptedBehaviour(info.namespace)?.kind === "big-configmaps" && info.resource === "configmaps";
    if (bigConfigmaps && info.verb === "list") return streamBigList(ctx, call);
    switch (info.verb) {
      case "list":
      case "watch":
        return listOrWatch(ctx, call, base);
      case "deletecollection":
        return deleteCollection(ctx, call, base);
      case "get":
        if (bigConfigmaps && getBigItem(ctx, call, base)) return;
        return getObject(ctx, call, base);
      case "create": return createObject(ctx, call, base);
      case "update": return updateObject(ctx, call, base);
      case "patch": return patchObject(ctx, call, base);
      case "delete": return deleteObject(ctx, call, base);
    }
    sendStatus(res, st.methodNotSupported(info.apiGroup, info.resource, info.verb), headers);
  }
}
