// Which recorded exchanges a replay takes: explicit IDs, --failed (no response or a status of
// 400 and above) and any ls filter, combined; earlier replays are left out unless named by ID.
import { UserError } from "../errors.js";
import type { ExchangeRow, ListFilter, Store } from "../store/store.js";

export interface Selection {
  ids: number[];
  failed: boolean;
  filter: ListFilter;
}

function failedRow(r: ExchangeRow): boolean {
  return r.status === null || r.status >= 400 || r.error !== null;
}

/** The rows to replay, oldest first; throws a UserError naming any ID that is not recorded. */
export function selectRows(store: Store, sel: Selection): ExchangeRow[] {
  const { limit, ...filter } = sel.filter;
  if (sel.ids.length > 0) filter.ids = [...new Set(sel.ids)];
  let rows = store.list(filter);
  if (sel.ids.length > 0) {
    const unfiltered = new Set(store.list({ ids: filter.ids }).map((r) => r.id));
    const missing = filter.ids!.filter((id) => !unfiltered.has(id));
    if (missing.length > 0) {
      throw new UserError(`no exchange with ID ${missing.join(", ")} in ${store.path}`, "list them with: kubewire ls");
    }
  } else {
    rows = rows.filter((r) => r.origin !== "replay");
  }
  if (sel.failed) rows = rows.filter(failedRow);
  return limit === undefined ? rows : rows.slice(-limit);
}
