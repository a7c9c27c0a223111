// deprecated-api: the API server answered with a `Warning: 299` deprecation: the request used an API
// version that a later Kubernetes release stops serving. Lists each warning, who received it and the replacement.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { describeRequest, distinct, findingOf, plural, pushTo, requests } from "./lib/util.js";
import { isDeprecationWarning, parseDeprecation, warningTexts } from "./lib/warnings.js";

function deprecations(ex: Exchange): string[] {
  return warningTexts(ex.response?.headers).filter(isDeprecationWarning);
}

export const rule: ExchangeRule = {
  kind: "deprecated-api",
  severity: "warning",
  help: "the API server warned that the request used a deprecated API version, with the replacement it names",
  match: (ex: Exchange) => ex.response !== null && deprecations(ex).length > 0,
  explain(group, ctx) {
    const byText = new Map<string, Exchange[]>();
    for (const ex of group) for (const text of distinct(deprecations(ex))) pushTo(byText, text, ex);
    const texts = [...byText.keys()];
    const message = `${requests(ctx.groupSize ?? group.length)} used ${texts.length === 1 ? "a deprecated API" : `${texts.length} deprecated APIs`} and received the API server's deprecation warning${texts.length === 1 ? "" : "s"}.`;
    const evidence: string[] = [];
    const advice: string[] = [];
    for (const [text, exs] of byText) {
      const ids = exs.slice(0, 10).map((ex) => `#${ex.id}`).join(", ") + (exs.length > 10 ? ", ..." : "");
      const what = distinct(exs.map((ex) => describeRequest({ ...ex.info, method: ex.request.method, path: ex.request.path }))).slice(0, 3).join("; ");
      evidence.push(`Warning: "${text}": ${plural(exs.length, "request")} (${ids}): ${what}`);
      const d = parseDeprecation(text);
      if (d?.replacement) {
        advice.push(`move from ${d.api} to ${d.replacement}${d.removedIn ? ` before upgrading to ${d.removedIn}, which no longer serves ${d.api}` : ""}: change apiVersion in manifests (kubectl convert helps) and update clients that call it`);
      } else if (d) {
        advice.push(`${d.api} has no direct replacement${d.removedIn ? ` and is gone in ${d.removedIn}` : ""}: stop depending on it before upgrading`);
      }
    }
    advice.push("find every caller with: kubewire flags --flag deprecated-api, then kubewire show ID for its User-Agent");
    advice.push("the API server counts these in the apiserver_requested_deprecated_apis metric: check it before a cluster upgrade");
    return findingOf(rule, group, message, evidence, advice);
  },
};
