// relist-storm: a client that lists a collection again after every watch ends (or expires with 410)
// instead of resuming the watch: full lists, repeatedly, are the costliest requests an API server serves.
import type { SetRule } from "./lib/rule.js";
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
    // reads are columns (read i: reads.id[i], reads.startedAt[i]...); each collection's are kept as read numbers
    const { id, startedAt, durationMs, watch } = reads;
    const rowsOf: number[][] = collections.map(() => []);
    const first = collections.map(() => ({ group: Infinity, at: Infinity }));
    for (let at = 0; at < reads.length; at++) {
      const of = reads.of[at];
      const group = groups[of][watch[at]];
      if (group === undefined) continue;
      rowsOf[of].push(at); // oldest first, as reads are
      if (group < first[of].group) first[of] = { group, at };
    }
    const order = collections.map((_, i) => i).filter((i) => rowsOf[i].length > 0);
    order.sort((a, b) => first[a].group - first[b].group || first[a].at - first[b].at);
    const relists: Array<{ id: number; startedAt: number }> = [];
    const evidence: string[] = [];
    for (const c of order) {
      // a relist: a list sent after a watch of the same collection had ended
      const found: number[] = [];
      let watchEnded = -Infinity;
      let open = 0;
      const ends: number[] = [];
      for (const r of rowsOf[c]) {
        while (ends.length && ends[0] <= startedAt[r]) {
          watchEnded = Math.max(watchEnded, ends.shift()!);
          open--;
        }
        if (watch[r]) {
          open++;
          ends.push(startedAt[r] + durationMs[r]);
          ends.sort((a, b) => a - b);
        } else if (watchEnded > -Infinity && open === 0) {
          found.push(r);
          watchEnded = -Infinity;
        }
      }
      // the densest window of relists
      let best: number[] = [];
      for (let i = 0, j = 0; j < found.length; j++) {
        while (startedAt[found[j]] - startedAt[found[i]] > WINDOW_MS) i++;
        if (j - i + 1 > best.length) best = found.slice(i, j + 1);
      }
      if (best.length < MIN_RELISTS) continue;
      for (const r of found) relists.push({ id: id[r], startedAt: startedAt[r] });
      const span = startedAt[best[best.length - 1]] - startedAt[best[0]];
      evidence.push(
        `${describeRequest({ ...collections[c], verb: "list", subresource: "", path: "" })} (context ${collections[c].context}): listed again after a watch ended ${found.length} times, ${best.length} of them in ${durationText(span)} (#${id[best[0]]} to #${id[best[best.length - 1]]})`,
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
