// forbidden: the API server answered 403: RBAC (or another authorizer) denied the request.
// Reads who was denied what from the Status message, and writes the Role and binding that would allow exactly that.
import type { Exchange } from "../types.js";
import type { ExchangeRule } from "./lib/rule.js";
import { canI, denialText, grantsFor, grantYaml, parseDenial } from "./lib/rbac.js";
import { distinct, findingOf, requests, responseMessage } from "./lib/util.js";

/** Most distinct grants printed as YAML in one finding. */
const MAX_GRANTS = 5;

export const rule: ExchangeRule = {
  kind: "forbidden",
  severity: "error",
  help: "403: the user is authenticated but RBAC does not allow the verb on the resource",
  match: (ex: Exchange) => ex.response?.status === 403,
  explain(group, ctx) {
    const denials = group.map((ex) => parseDenial(responseMessage(ex), ex));
    const texts = distinct(denials.map(denialText));
    const grants = grantsFor(denials);
    const users = distinct(denials.map((d) => d.user));
    const message = texts.length === 1
      ? `${requests(ctx.groupSize ?? group.length)} forbidden: ${texts[0]}.`
      : `${requests(ctx.groupSize ?? group.length)} forbidden for ${users.map((u) => `User "${u}"`).join(", ")}: ${texts.length} distinct denials.`;
    const evidence = group.slice(0, 10).map((ex, i) => `#${ex.id} ${ex.request.method} ${ex.request.path}: 403 ${responseMessage(ex) || denialText(denials[i])}`);
    const advice: string[] = [];
    for (const g of grants.slice(0, MAX_GRANTS)) {
      const scope = g.namespace ? `in namespace ${g.namespace}` : "cluster-wide";
      const what = g.resource ? `${g.verbs.join(", ")} on ${g.resource}${g.group ? ` in API group ${g.group}` : ""}` : `${g.verbs.join(", ")} on ${g.path}`;
      advice.push(`if "${g.user}" should be allowed to ${what} ${scope}, apply this (kubectl apply -f -):`);
      advice.push(grantYaml(g));
      advice.push(`then check it with: ${canI(g).join(" && ")}`);
    }
    if (grants.length > MAX_GRANTS) advice.push(`${grants.length - MAX_GRANTS} more distinct denials: see them with kubewire ls --flag forbidden`);
    advice.push("if the request should not be made, change the program or the kubeconfig context it uses instead of granting more");
    return findingOf(rule, group, message, evidence, advice);
  },
};
