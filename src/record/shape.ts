// A cheap shape check on what record() was handed or a spill line holds, so one malformed
// object cannot fail a whole batch (or a spill reload) over and over.
import type { Exchange } from "../types.js";

export function looksLikeExchange(x: unknown): x is Exchange {
  if (typeof x !== "object" || x === null) return false;
  const e = x as Partial<Record<keyof Exchange, unknown>>;
  const rq = e.request as Record<string, unknown> | undefined;
  const timing = e.timing as Record<string, unknown> | undefined;
  return (
    typeof e.startedAt === "number" &&
    typeof rq === "object" && rq !== null && typeof rq.method === "string" && typeof rq.path === "string" &&
    typeof e.info === "object" && e.info !== null &&
    typeof timing === "object" && timing !== null && typeof timing.totalMs === "number" &&
    typeof e.client === "object" && e.client !== null
  );
}
