// Requests without the proxy token (PROXY_AUTH) are counted, not kept one by one: one row per context,
// client address and minute, holding the first request with its headers cut to a few KiB.
import type { Exchange, Headers } from "../types.js";

/** Header bytes (names and values) kept of the first request of an aggregated row. */
export const AGGREGATE_HEADER_BYTES = 4096;
/** Longest path, query or user agent kept on an aggregated row. */
const AGGREGATE_TEXT_CHARS = 1024;
/** Set on a row whose headers were cut: how many bytes were not kept. */
export const CUT_HEADER = "x-kubewire-headers-cut";

const MINUTE_MS = 60_000;

/** True for the exchanges that are aggregated rather than recorded one by one. */
export function isAggregated(ex: Exchange): boolean {
  return (ex as Exchange | null | undefined)?.error?.code === "PROXY_AUTH";
}

/** The row an aggregated exchange adds to: its context, client address and minute. */
export function aggregateKey(ex: Exchange): string {
  return `${ex.context}\u0000${ex.client.address}\u0000${Math.floor(ex.startedAt / MINUTE_MS)}`;
}

/** A copy of the exchange as its aggregated row starts: a count of one, headers and long texts cut. */
export function startAggregate(ex: Exchange): Exchange {
  return {
    ...ex,
    client: { ...ex.client, userAgent: cut(ex.client.userAgent) },
    request: { ...ex.request, path: cut(ex.request.path), query: cut(ex.request.query), headers: capHeaders(ex.request.headers, AGGREGATE_HEADER_BYTES) },
    repeat: { count: 1, lastSeenAt: ex.startedAt },
  };
}

/** Counts one more request into the aggregated row it belongs to. */
export function addToAggregate(row: Exchange, ex: Exchange): void {
  row.repeat!.count++;
  if (ex.startedAt > row.repeat!.lastSeenAt) row.repeat!.lastSeenAt = ex.startedAt;
}

function cut(text: string): string {
  return text.length <= AGGREGATE_TEXT_CHARS ? text : `${text.slice(0, AGGREGATE_TEXT_CHARS)}…`;
}

/** The headers in their order until `max` bytes are used; the rest cut, and how much said in CUT_HEADER. */
export function capHeaders(headers: Headers, max: number): Headers {
  const out: Headers = {};
  let used = 0;
  let dropped = 0;
  for (const [name, value] of Object.entries(headers)) {
    const values = Array.isArray(value) ? value : [value];
    const kept: string[] = [];
    for (const v of values) {
      const text = String(v);
      const room = max - used - name.length;
      if (text.length <= room) {
        kept.push(text);
        used += name.length + text.length;
      } else {
        if (room >= 64) {
          kept.push(`${text.slice(0, room - 1)}…`);
          used += name.length + room;
        }
        dropped += name.length + text.length - Math.max(room >= 64 ? room - 1 : 0, 0);
      }
    }
    if (kept.length > 0) out[name] = Array.isArray(value) ? kept : kept[0]!;
  }
  if (dropped > 0) out[CUT_HEADER] = `${dropped} bytes of headers not kept`;
  return out;
}
