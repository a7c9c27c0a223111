// large-list: a list without a limit that returned a very large body: memory and time on
// both sides; paging with limit and continue (or an informer) avoids it.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, distinct, findingOf, requests } from "./lib/util.js";

/** A list body at least this large, asked for without limit, is flagged. */
const LARGE_LIST_BYTES = 1024 * 1024;

function hasLimit(query: string): boolean {
  const m = /(?:^|&)limit=(\d+)/.exec(query);
  return m !== null && Number(m[1]) > 0;
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export const rule: ExchangeRule = {
  kind: "large-list",
  severity: "warning",
  help: "a list without limit returned a very large body: page it with limit and continue",
  match: (ex: Exchange) => ex.info.verb === "list" && ex.response !== null && ex.response.status === 200 && ex.response.bytes >= LARGE_LIST_BYTES && !hasLimit(ex.request.query),
  explain(group, ctx) {
    const biggest = Math.max(...group.map((ex) => ex.response!.bytes));
    const what = distinct(group.map((ex) => describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path })));
    const message = `${requests(ctx.groupSize ?? group.length)} listed without limit and got up to ${mib(biggest)} in one response.`;
    const evidence = group.slice(0, 10).map((ex) => `#${ex.id} ${ex.request.path}${ex.request.query ? `?${ex.request.query}` : ""}: ${mib(ex.response!.bytes)} in ${Math.round(ex.timing.totalMs)}ms`);
    const advice = [
      `page the list: add limit=500 and follow metadata.continue (client-go: ListOptions{Limit: 500} with the pager package; kubectl get does this with --chunk-size)`,
      `narrow it with a label or field selector, or a namespace, if not all of ${what[0]} is needed`,
      "if the program lists repeatedly, use an informer (list once, then watch) instead",
    ];
    return findingOf(rule, group, message, evidence, advice);
  },
};
