// relist-storm: a client that lists a collection again after every watch ends (or expires with 410)
// instead of resuming the watch: full lists, repeatedly, are the costliest requests an API server serves.
import type { ListOrWatch, SetRule } from "./lib/rule.js";
import { describeRequest, durationText, findingOf, pushTo, requests } from "./lib/util.js";

/** At least this many lists that each followed the end of a watch of the same collection... */
const MIN_RELISTS = 5;
/** ...within this window. A healthy informer re-watches from its last resourceVersion and relists only on a rare 410. */
const WINDOW_MS = 10 * 60_000;

function collection(r: ListOrWatch): string {
  return [r.context, r.group, r.resource, r.namespace].join("\u0000");
}

/** The baseline group (context, verb, resource) a row belongs to. */
function groupOf(r: Pick<ListOrWatch, "context" | "verb" | "group" | "resource" | "subresource">): string {
  return [r.context, r.verb, r.group, r.resource, r.subresource].join("\u0000");
}

export const rule: SetRule = {
  kind: "relist-storm",
  severity: "warning",
  help: `a client listed a collection again after every watch end or 410, ${MIN_RELISTS}+ times within ${durationText(WINDOW_MS)}`,
  analyze(source) {
    // every list and watch of a whole collection, read once (narrow rows: no headers), taken group by group
    // in the baselines' order, each oldest first: that order decides which collections' evidence comes first
    const byGroup = new Map<string, ListOrWatch[]>();
    for (const r of source.listsAndWatches()) pushTo(byGroup, groupOf(r), r);
    const byCollection = new Map<string, ListOrWatch[]>();
    for (const b of source.baselines()) {
      if ((b.verb !== "list" && b.verb !== "watch") || b.subresource) continue;
      for (const r of byGroup.get(groupOf(b)) ?? []) pushTo(byCollection, collection(r), r);
    }
    const relists: ListOrWatch[] = [];
    const evidence: string[] = [];
    for (const rows of byCollection.values()) {
      rows.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
      // a relist: a list sent after a watch of the same collection had ended
      const found: ListOrWatch[] = [];
      let watchEnded = -Infinity;
      let open = 0;
      const ends: number[] = [];
      for (const r of rows) {
        while (ends.length && ends[0] <= r.startedAt) {
          watchEnded = Math.max(watchEnded, ends.shift()!);
          open--;
        }
        if (r.verb === "watch") {
          open++;
          ends.push(r.startedAt + r.durationMs);
          ends.sort((a, b) => a - b);
        } else if (watchEnded > -Infinity && open === 0) {
          found.push(r);
          watchEnded = -Infinity;
        }
      }
      // the densest window of relists
      let best: ListOrWatch[] = [];
      for (let i = 0, j = 0; j < found.length; j++) {
        while (found[j].startedAt - found[i].startedAt > WINDOW_MS) i++;
        if (j - i + 1 > best.length) best = found.slice(i, j + 1);
      }
      if (best.length < MIN_RELISTS) continue;
      relists.push(...found);
      const span = best[best.length - 1].startedAt - best[0].startedAt;
      evidence.push(
        `${describeRequest(best[0])} (context ${best[0].context}): listed again after a watch ended ${found.length} times, ${best.length} of them in ${durationText(span)} (#${best[0].id} to #${best[best.length - 1].id})`,
      );
    }
    if (relists.length === 0) return null;
    relists.sort((a, b) => a.startedAt - b.startedAt || a.id - b.id);
    const message = `${requests(relists.length)} ${relists.length === 1 ? "was a full list" : "were full lists"} sent again after a watch ended, ${MIN_RELISTS} or more within ${durationText(WINDOW_MS)}.`;
    const advice = [
      "resume a watch that ended normally from the last resourceVersion it delivered (or its last BOOKMARK) instead of listing again",
      "relist only on 410 Expired, and ask for bookmarks (allowWatchBookmarks=true) so that is rare; client-go informers do both",
      "if the watches end with 410 each time, see the watch-expired kind; if they end early, see reset and timeout",
    ];
    return { finding: findingOf(rule, relists, message, evidence.slice(0, 10), advice), flagIds: relists.map((r) => r.id) };
  },
};
