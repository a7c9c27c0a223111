// watch-expired: a watch ended with an ERROR event carrying a 410 Expired (Gone) Status inside its
// 200 stream: it resumed from a resourceVersion the API server no longer keeps, so the client must relist.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, findingOf, requests } from "./lib/util.js";

function expired(ex: Exchange): boolean {
  return ex.stream?.lastError?.code === 410 || ex.response?.status === 410;
}

function resourceVersionOf(query: string): string {
  const m = /(?:^|&)resourceVersion=([^&]*)/.exec(query);
  return m ? decodeURIComponent(m[1]) : "";
}

export const rule: ExchangeRule = {
  kind: "watch-expired",
  severity: "warning",
  help: "a watch ended with 410 Expired: it resumed from a resourceVersion the API server no longer keeps",
  match: (ex: Exchange) => ex.info.verb === "watch" && ex.response !== null && expired(ex),
  explain(group, ctx) {
    const n = ctx.groupSize ?? group.length;
    const message = `${requests(n)} watched from a resourceVersion the API server no longer had and ${n === 1 ? "was" : "were"} ended with 410 Expired.`;
    const evidence = group.slice(0, 10).map((ex) => {
      const rv = resourceVersionOf(ex.request.query);
      const e = ex.stream?.lastError;
      const how = e ? `ERROR event ${e.code}${e.reason ? ` ${e.reason}` : ""}${e.message ? `: ${e.message}` : ""}` : `answered ${ex.response!.status}`;
      const events = ex.stream ? ` after ${ex.stream.events} events` : "";
      return `#${ex.id} ${describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path })}${rv ? ` from resourceVersion ${rv}` : ""}: ${how}${events}`;
    });
    const advice = [
      "relist, then watch from the list's metadata.resourceVersion: retrying the watch with the same resourceVersion fails again (client-go's reflector and informers do this for you)",
      "enable bookmarks (allowWatchBookmarks=true, on by default in informers) so a restarted watch resumes from a recent resourceVersion and rarely expires",
      "if it happens often, the watch cache or etcd compaction window is short for how fast this resource changes (kube-apiserver --watch-cache-sizes, etcd --auto-compaction-retention)",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};
