// injected: kubewire itself failed these requests on purpose (fault rules): listed apart so that
// no other rule blames the API server for them; `kubewire retries` judges how the client reacted.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, distinct, findingOf, plural, requests } from "./lib/util.js";

export const rule: ExchangeRule = {
  kind: "injected",
  severity: "info",
  help: "a kubewire fault rule (--fault, --faults) acted on these requests on purpose; other rules ignore them",
  match: (ex: Exchange) => !!ex.injected,
  explain(group, ctx) {
    const byRule = new Map<string, number>();
    for (const ex of group) byRule.set(ex.injected!.rule, (byRule.get(ex.injected!.rule) ?? 0) + 1);
    const rules = [...byRule].map(([name, n]) => `${name} (${n})`);
    const message = `${requests(ctx.groupSize ?? group.length)} failed or shaped on purpose by ${plural(byRule.size, "fault rule")}: ${rules.join(", ")}.`;
    const evidence = distinct(group.map((ex) => `${ex.injected!.rule}: ${ex.injected!.action} on ${describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path })}`)).slice(0, 10);
    const advice = ["see how the client reacted to each: kubewire retries", "list them: kubewire ls --injected"];
    return findingOf(rule, group, message, evidence, advice);
  },
};
