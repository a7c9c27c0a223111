// throttled: the API server answered 429 (API Priority and Fairness or max-in-flight limits):
// shows Retry-After, the flow schema and priority level, and whether the client waited as told.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, distinct, findingOf, header, honoursRetryAfter, pushTo, requestKey, requests, retryAfterMs } from "./lib/util.js";

function retryAfterOf(ex: Exchange): number | null {
  return retryAfterMs(header(ex.response?.headers, "retry-after"), ex.startedAt);
}

/** For each 429 followed by the same request, whether the next try came no sooner than Retry-After (10% slack). */
function honoured(group: Exchange[]): { honoured: number; ignored: number; gaps: string[] } {
  let ok = 0;
  let bad = 0;
  const gaps: string[] = [];
  const byKey = new Map<string, Exchange[]>();
  for (const ex of group) pushTo(byKey, requestKey({ ...ex.request, context: ex.context }), ex);
  for (const ex of group) {
    const wait = retryAfterOf(ex);
    if (wait === null) continue;
    const same = byKey.get(requestKey({ ...ex.request, context: ex.context }))!;
    const next = same.find((o) => o.startedAt > ex.startedAt);
    if (!next) continue;
    const gap = next.startedAt - ex.startedAt;
    if (honoursRetryAfter(gap, wait)) ok++;
    else bad++;
    if (gaps.length < 5) gaps.push(`#${ex.id} → #${next.id}: retried after ${gap}ms, Retry-After asked ${wait}ms`);
  }
  return { honoured: ok, ignored: bad, gaps };
}

export const rule: ExchangeRule = {
  kind: "throttled",
  severity: "warning",
  help: "429: the API server is rate limiting (Priority and Fairness), with Retry-After and whether the client honoured it",
  match: (ex: Exchange) => ex.response?.status === 429,
  explain(group, ctx) {
    const h = honoured(group);
    const after = distinct(group.map((ex) => header(ex.response?.headers, "retry-after")).filter((v): v is string => v !== undefined));
    const fs = distinct(group.map((ex) => header(ex.response?.headers, "x-kubernetes-pf-flowschema-uid")).filter((v): v is string => !!v));
    const pl = distinct(group.map((ex) => header(ex.response?.headers, "x-kubernetes-pf-prioritylevel-uid")).filter((v): v is string => !!v));
    const verdict =
      h.honoured + h.ignored === 0 ? "no retry was recorded" : h.ignored === 0 ? "the client honoured Retry-After" : `the client ignored Retry-After ${h.ignored} of ${h.honoured + h.ignored} times`;
    const message = `${requests(ctx.groupSize ?? group.length)} throttled with 429${after.length ? ` (Retry-After ${after.join(", ")}s)` : ""}: ${verdict}.`;
    const evidence = [
      ...distinct(group.map((ex) => describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path }))).slice(0, 5).map((d) => `throttled: ${d}`),
      fs.length ? `flow schema UID: ${fs.join(", ")}` : "no X-Kubernetes-PF-FlowSchema-UID header (not API Priority and Fairness)",
      pl.length ? `priority level UID: ${pl.join(", ")}` : "",
      ...h.gaps,
    ];
    const advice = [
      fs.length ? `find the flow schema and its priority level: kubectl get flowschemas -o custom-columns=NAME:.metadata.name,UID:.metadata.uid,PRIORITY:.spec.priorityLevelConfiguration.name | grep ${fs[0]}` : "",
      "reduce the request rate: use informers/watches instead of polling, and raise client-side QPS/Burst only if the server has room",
      h.ignored > 0 ? "make the client wait at least Retry-After before retrying (client-go does this; custom HTTP clients often do not)" : "",
      "if this workload needs more share, give it its own FlowSchema and PriorityLevelConfiguration",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};
