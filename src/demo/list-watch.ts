// Collections: a list (label and field selectors, limit and continue, a Table when asked) and a
// watch (watch.ts streams it; the "expired" failure namespace ends every watch with 410 Expired).
import type { RequestInfo } from "../types.js";
import type { ApiContext, Call } from "./api-context.js";
import type { ResourceDef } from "./discovery.js";
import { scriptedBehaviour } from "./failure-namespaces.js";
import { apiVersionOf, includeObject, storeKey, stripType } from "./objects.js";
import { negotiate, sendJson, sendNotAcceptable, sendStatus } from "./respond.js";
import * as st from "./status.js";
import { matchesFields, matchesLabels, type KObject } from "./store.js";
import { table } from "./tables.js";
import { serveWatch } from "./watch.js";

/** The objects a collection request selects: its namespace, labelSelector and fieldSelector. */
export function selector(def: ResourceDef, info: RequestInfo, url: URL): (o: KObject) => boolean {
  const ns = def.namespaced ? info.namespace : "";
  const labels = url.searchParams.get("labelSelector");
  const fields = url.searchParams.get("fieldSelector");
  return (o) => (!ns || o.metadata.namespace === ns) && matchesLabels(o.metadata.labels, labels) && matchesFields(o, fields);
}

export function listOrWatch(ctx: ApiContext, { req, res, info, url, headers }: Call, def: ResourceDef): void {
  const n = negotiate(req.headers.accept, true);
  if (!n.ok) return sendNotAcceptable(res);
  const key = storeKey(def);
  const filter = selector(def, info, url);
  if (info.verb === "watch") {
    return serveWatch(res, ctx.store, {
      key,
      filter,
      resourceVersion: url.searchParams.get("resourceVersion") ?? "",
      asTable: n.table,
      include: includeObject(url),
      timeoutSeconds: Number(url.searchParams.get("timeoutSeconds") ?? 0) || 0,
      track: ctx.track,
      protobuf: n.protobuf,
      apiVersion: apiVersionOf(def),
      kind: def.kind,
      bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
      expire: scriptedBehaviour(info.namespace)?.kind === "expire-watches",
    }, headers);
  }
  const rv = ctx.store.resourceVersion;
  let items = ctx.store.list(key, def.namespaced ? info.namespace : "").filter(filter);
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
  if (n.table) return sendJson(res, 200, table(key, items, meta, includeObject(url)), headers);
  sendJson(res, 200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: meta, items: items.map(stripType) }, headers);
}
