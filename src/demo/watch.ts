// Watch streams as kube-apiserver serves them: chunked newline-delimited {"type","object"} JSON events,
// or length-prefixed protobuf WatchEvent frames (`;stream=watch`) for clients that prefer protobuf;
// initial ADDED events, replay from a resourceVersion, live changes from the store, Tables when asked,
// BOOKMARK events when allowWatchBookmarks=true, timeoutSeconds, and an ERROR event carrying a 410
// Expired Status when the resourceVersion is older than the store's change log (or in namespace "expired").
import type { ServerResponse } from "node:http";
import { canEncode, PROTOBUF, watchFrame } from "./proto.js";
import { gone } from "./status.js";
import type { KObject, Store, StoreEvent } from "./store.js";
import { table, type IncludeObject } from "./tables.js";

/** How often a watch with bookmarks gets one (kube-apiserver: about once a minute). */
const BOOKMARK_EVERY_MS = 60_000;

export interface WatchOptions {
  key: string;
  /** keeps only objects the request selects (namespace, label and field selectors) */
  filter: (o: KObject) => boolean;
  /** resourceVersion from the request, "" or "0" for "send the current state first" */
  resourceVersion: string;
  asTable: boolean;
  include: IncludeObject;
  timeoutSeconds: number;
  /** called with the cleanup, so the server can end the stream on close() */
  track: (stop: () => void) => () => void;
  /** the client prefers protobuf: frames when the kind can be encoded */
  protobuf?: boolean;
  /** apiVersion and kind of the watched resource (for protobuf envelopes and bookmarks) */
  apiVersion?: string;
  kind?: string;
  /** allowWatchBookmarks=true */
  bookmarks?: boolean;
  /** end the watch with a 410 Expired ERROR event after the initial events (scripted namespace "expired") */
  expire?: boolean;
}

/** The oldest resourceVersion a watch can resume from: just before the first change the store still logs. */
function oldestResumable(store: Store): number {
  const log = store.since(0);
  return log.length ? log[0].rv - 1 : Number(store.resourceVersion);
}

export function serveWatch(res: ServerResponse, store: Store, opts: WatchOptions, headers: Record<string, string>): void {
  const protobuf = !!opts.protobuf && !opts.asTable && canEncode(opts.kind);
  res.writeHead(200, { "Content-Type": protobuf ? `${PROTOBUF};stream=watch` : "application/json", ...headers, "Transfer-Encoding": "chunked" });
  res.flushHeaders();
  const encode = (type: string, obj: Record<string, unknown>): string | Buffer => {
    if (protobuf) return watchFrame(type, obj);
    const object = opts.asTable && type !== "ERROR" && type !== "BOOKMARK" ? table(opts.key, [obj as KObject], { resourceVersion: (obj as KObject).metadata.resourceVersion }, opts.include) : obj;
    return JSON.stringify({ type, object }) + "\n";
  };
  const send = (ev: StoreEvent): void => {
    if (ev.key !== opts.key || !opts.filter(ev.object)) return;
    res.write(encode(ev.type, ev.object));
  };
  const bookmark = (): void => {
    if (!opts.bookmarks || res.writableEnded) return;
    const obj = { kind: opts.kind ?? "", apiVersion: opts.apiVersion ?? "v1", metadata: { resourceVersion: store.resourceVersion, creationTimestamp: null } };
    res.write(encode("BOOKMARK", obj));
  };
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => {};
  let untrack = (): void => {};
  const stop = (): void => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    untrack();
    if (!res.writableEnded) res.end();
  };
  const expire = (rv: string, oldest: number): void => {
    // what the watch cache answers: an ERROR event with NewResourceExpired's Status, then the end of the stream
    res.write(encode("ERROR", { ...gone(`too old resource version: ${rv} (${oldest})`) }));
    stop();
  };

  const rv = opts.resourceVersion;
  const oldest = oldestResumable(store);
  if (rv && rv !== "0" && /^\d+$/.test(rv) && Number(rv) < oldest) return expire(rv, oldest);
  if (!rv || rv === "0") {
    for (const o of store.list(opts.key, "")) if (opts.filter(o)) res.write(encode("ADDED", o));
  } else {
    for (const ev of store.since(Number(rv) || 0)) send(ev);
  }
  if (opts.expire) return expire(store.resourceVersion, Number(store.resourceVersion) + 1);
  bookmark();
  unsubscribe = store.subscribe(send);
  untrack = opts.track(stop);
  if (opts.bookmarks) {
    ticker = setInterval(bookmark, BOOKMARK_EVERY_MS);
    ticker.unref();
  }
  if (opts.timeoutSeconds > 0) {
    timer = setTimeout(() => {
      bookmark(); // a last bookmark before the timeout ends the watch, so the client resumes from it
      stop();
    }, opts.timeoutSeconds * 1000);
  }
  res.on("close", stop);
}
