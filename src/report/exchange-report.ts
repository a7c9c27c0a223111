// What is shown about one exchange outside a terminal (the web view): the `show -o json` shape,
// its flags explained for it alone, and the same request as a copy-paste kubectl/curl line.
// Kept below src/cli so src/ui can use it; src/cli/commands/show.ts holds the terminal page.
import type { Exchange } from "../types.js";
import { rules } from "../analyze/index.js";
import { isExchangeRule, type CredentialFacts } from "../analyze/lib/rule.js";

export interface ShownFlag {
  kind: string;
  severity: string;
  message: string;
  advice: string[];
}

/**
 * Each flag raised on the exchange, explained for this exchange alone (whole-set kinds by their help line);
 * credentials (what the kubeconfig says of each context) sharpen the advice for unauthorized; throttled
 * is read over `sameRequest` when given, so that it says whether the 429 was retried, as flags does.
 */
export function explainFlags(ex: Exchange, kinds: string[], credentials: () => Map<string, CredentialFacts> = () => new Map(), sameRequest?: Exchange[]): ShownFlag[] {
  return kinds.flatMap((kind): ShownFlag[] => {
    const rule = rules.find((r) => r.kind === kind);
    if (!rule) return [{ kind, severity: "info", message: "a kind this kubewire build does not know", advice: [] }];
    if (!isExchangeRule(rule)) return [{ kind, severity: rule.severity, message: `${rule.help}.`, advice: [`see kubewire flags --flag ${kind}`] }];
    const group = kind === "throttled" && sameRequest?.length ? sameRequest : [ex];
    const f = rule.explain(group, { now: Date.now(), credentials: kind === "unauthorized" ? credentials() : new Map() });
    return [{ kind, severity: f.severity, message: f.message, advice: f.advice }];
  });
}

/** The `show -o json` shape: the Exchange with its id and an ISO time first. */
export function showData(ex: Exchange): Record<string, unknown> {
  return { id: ex.id, time: new Date(ex.startedAt).toISOString(), ...ex };
}

/** The same request by hand: `kubectl get --raw` and friends, else curl. */
export function replayCommand(ex: Exchange): string {
  const url = ex.request.path + (ex.request.query ? `?${ex.request.query}` : "");
  // a (cluster, user) pair no context names was reached with kubectl's --cluster and --user
  const ctx = ex.context ? ` --context ${ex.context}` : ex.kubeCluster ? ` --cluster ${ex.kubeCluster}${ex.kubeUser ? ` --user ${ex.kubeUser}` : ""}` : "";
  switch (ex.request.method) {
    case "GET":
      if (ex.info.verb !== "watch") return `kubectl${ctx} get --raw '${url}'`;
      break;
    case "DELETE":
      return `kubectl${ctx} delete --raw '${url}'`;
    case "POST":
      return `kubectl${ctx} create --raw '${url}' -f body.json`;
    case "PUT":
      return `kubectl${ctx} replace --raw '${url}' -f body.json`;
  }
  return `curl --cacert ca.crt -H "Authorization: Bearer $TOKEN" -X ${ex.request.method} '${ex.clusterUrl}${url}'`;
}
