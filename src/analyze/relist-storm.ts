// relist-storm: a client that lists a collection again after every watch ends (or expires with 410)
// instead of resuming the watch: full lists, repeatedly, are the costliest requests an API server serves.
import type { CollectionRead, SetRule } from "./lib/rule.js";
import { describeRequest, durationText, findingOf, requests } from "./lib/util.js";

/** At least this many lists that each followed the end of a watch of the same collection... */
const MIN_RELISTS = 5;
/** ...within this window. A healthy informer re-watches from its last resourceVersion and relists only on a rare 410. */
const WINDOW_MS = 10 * 60_000;

/** The baseline group (context, verb, resource) of a list or watch of a whole collection. */
function groupOf(g: { context: string; verb: string; group: string; resource: string }): string {
  return [g.context, g.verb, g.group, g.resource].join("\u0000");
}

export const rule: SetRule = {
  kind: "relist-storm",
  severity: "warning",
  help: `a client listed a collection again after every watch end or 410, ${MIN_RELISTS}+ times within ${durationText(WINDOW_MS)}`,
  analyze(source) {
    const { collections, reads } = source.listsAndWatches();
    // Collections are judged in the order they first appear when the baseline groups are taken in turn, each
    // oldest first (the evidence lines keep that order); a read outside every baseline group is not judged.
    const place = new Map<string, number>();
    source.baselines().forEach((b, i) => {
      if ((b.verb === "list" || b.verb === "watch") && !b.subresource) place.set(groupOf(b), i);
    });
    const groups = collections.map((c) => [place.get(groupOf({ ...c, verb: "list" })), place.get(groupOf({ ...c, verb: "watch" }))]);
    const rowsOf: CollectionRead[][] = collections.map(() => []);
    const first = collections.map(() => ({ group: Infinity, at: Infinity }));
    reads.forEach((r, at) => {
      const group = groups[r.of][r.watch ? 1 : 0];
      if (group === undefined) return;
      rowsOf[r.of].push(r); // oldest first, as reads are
      if (group < first[r.of].group) first[r.of] = { group, at };
    });
    const order = collections.map((_, i) => i).filter((i) => rowsOf[i].length > 0);
    order.sort((a, b) => first[a].group - first[b].group || first[a].at - first[b].at);
    const relists: CollectionRead[] = [];
    const evidence: string[] = [];
    for (const c of order) {
      const rows = rowsOf[c];
      // a relist: a list sent after a watch of the same collection had ended
      const found: CollectionRead[] = [];
      let watchEnded = -Infinity;
      let open = 0;
      const ends: number[] = [];
      for (const r of rows) {
        while (ends.length && ends[0] <= r.startedAt) {
          watchEnded = Math.max(watchEnded, ends.shift()!);
          open--;
        }
        if (r.watch) {
          open++;
          ends.push(r.startedAt + r.durationMs);
          ends.sort((a, b) => a - b);
        } else if (watchEnded > -Infinity && open === 0) {
          found.push(r);
          watchEnded = -Infinity;
        }
      }
      // the densest window of relists
      let best: CollectionRead[] = [];
      for (let i = 0, j = 0; j < found.length; j++) {
        while (found[j].startedAt - found[i].startedAt > WINDOW_MS) i++;
        if (j - i + 1 > best.length) best = found.slice(i, j + 1);
      }
      if (best.length < MIN_RELISTS) continue;
      relists.push(...found);
      const span = best[best.length - 1].startedAt - best[0].startedAt;
      evidence.push(
        `${describeRequest({ ...collections[c], verb: "list", subresource: "", path: "" })} (context ${collections[c].context}): listed again after a watch ended ${found.length} times, ${best.length} of them in ${durationText(span)} (#${best[0].id} to #${best[best.length - 1].id})`,
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
