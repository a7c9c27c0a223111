// The "big" failure namespace's configmaps: made up on the fly (never stored), as many as fill the
// cluster's bigListBytes, listed in chunks without ever holding the list whole, and readable by name.
import type { ApiContext, Call } from "./api-context.js";
import type { ResourceDef } from "./discovery.js";
import { answerObject, includeObject, stripType } from "./objects.js";
import { negotiate, ResponseStream, sendNotAcceptable, sendStatus } from "./respond.js";
import * as st from "./status.js";
import type { KObject } from "./store.js";
import { table, tableRow } from "./tables.js";

const BIG_ITEM_DATA = "x".repeat(4000);

function bigItem(i: number): KObject {
  const name = `big-${String(i).padStart(6, "0")}`;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "big", uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, resourceVersion: String(100 + i), creationTimestamp: "2025-01-01T00:00:00Z" },
    data: { index: String(i), payload: BIG_ITEM_DATA },
  };
}

function bigCount(ctx: ApiContext): number {
  return Math.max(1, Math.ceil(ctx.bigListBytes / (JSON.stringify(stripType(bigItem(0))).length + 1)));
}

/** Answers a get of big-NNNNNN when it names one of the made-up items; false leaves the request to the store. */
export function getBigItem(ctx: ApiContext, call: Call, def: ResourceDef): boolean {
  const m = /^big-(\d+)$/.exec(call.info.name);
  if (!m || Number(m[1]) >= bigCount(ctx)) return false;
  answerObject(call, def, bigItem(Number(m[1])), 200);
  return true;
}

/** Streams the ConfigMapList (or Table) of namespace "big" in chunks, never holding it whole. */
export async function streamBigList(ctx: ApiContext, { req, res, url, headers }: Call): Promise<void> {
  const n = negotiate(req.headers.accept, true);
  if (!n.ok) return sendNotAcceptable(res);
  const total = bigCount(ctx);
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
  const rv = ctx.store.resourceVersion;
  const meta: Record<string, unknown> = { resourceVersion: rv };
  if (end < total) {
    meta.continue = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(rv), index: end })).toString("base64");
    meta.remainingItemCount = total - end;
  }
  const out = new ResponseStream(res, 200, { "Content-Type": "application/json", ...headers });
  const include = includeObject(url);
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
