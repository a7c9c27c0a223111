// What `exec` says when its command is done: how many of the command's requests failed and which
// problem kinds they show (with their IDs and the command that explains them), or that nothing at
// all came through kubewire, so a program that bypassed it is not mistaken for a healthy one.
import { Store, type ListFilter } from "../store/store.js";

function idRange(ids: number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  return sorted.length === 1 ? `#${sorted[0]}` : `#${sorted[0]}–${sorted.at(-1)}`;
}

/** The lines for the exchanges the command's run (its run id) recorded into db since `since` (epoch ms). */
export function execVerdict(db: string, since: number, command: string, run?: string): string[] {
  const store = Store.open(db, { readonly: true });
  try {
    // another run recording into the same database at the same time is not this command's
    const mine: ListFilter = { since, origin: "proxy", ...(run ? { source: { parts: { run }, any: [] } } : {}) };
    const total = store.count(mine);
    if (total === 0) {
      return [
        `kubewire: WARNING: ${command} sent no request through kubewire, so nothing was recorded.`,
        "  It may have used another kubeconfig (--kubeconfig, --server), in-cluster config, or no Kubernetes client at all; kubewire exec sets KUBECONFIG only.",
      ];
    }
    const failed = (["4xx", "5xx", "error"] as const).reduce((n, status) => n + store.count({ ...mine, status }), 0);
    const kinds = store.flagSummary(mine).filter((k) => k.kind !== "injected");
    if (failed === 0 && kinds.length === 0) return [`kubewire: ${total} request${total === 1 ? "" : "s"}, none failed`];
    const found = kinds.map((k) => `${k.kind} (${idRange(k.ids)})`).join(", ");
    const scope = run && store.severalSources() ? ` --source run=${run}` : "";
    return [`kubewire: ${failed} of ${total} request${total === 1 ? "" : "s"} failed${found ? `: ${found}` : ""} → npx kubewire flags --db ${db}${scope}`];
  } finally {
    store.close();
  }
}
