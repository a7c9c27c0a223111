// Watch streams: chunked newline-delimited {"type","object"} events, initial ADDED events,
// replay from a resourceVersion, live changes from the store, Tables when asked, timeoutSeconds.
import type { ServerResponse } from "node:http";
import type { KObject, Store, StoreEvent } from "./store.js";
import { table, type IncludeObject } from "./tables.js";

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
}

export function serveWatch(res: ServerResponse, store: Store, opts: WatchOptions, headers: Record<string, string>): void {
  res.writeHead(200, { "Content-Type": "application/json", ...headers, "Transfer-Encoding": "chunked" });
  res.flushHeaders();
  const encode = (type: string, obj: KObject): string => {
    const object = opts.asTable ? table(opts.key, [obj], { resourceVersion: obj.metadata.resourceVersion }, opts.include) : obj;
    return JSON.stringify({ type, object }) + "\n";
  };
  const send = (ev: StoreEvent): void => {
    if (ev.key !== opts.key || !opts.filter(ev.object)) return;
    res.write(encode(ev.type, ev.object));
  };
  const rv = opts.resourceVersion;
  if (!rv || rv === "0") {
    for (const o of store.list(opts.key, "")) if (opts.filter(o)) res.write(encode("ADDED", o));
  } else {
    for (const ev of store.since(Number(rv) || 0)) send(ev);
  }
  const unsubscribe = store.subscribe(send);
  let timer: NodeJS.Timeout | undefined;
  let untrack = (): void => {};
  const stop = (): void => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    untrack();
    if (!res.writableEnded) res.end();
  };
  untrack = opts.track(stop);
  if (opts.timeoutSeconds > 0) timer = setTimeout(stop, opts.timeoutSeconds * 1000);
  res.on("close", stop);
}
