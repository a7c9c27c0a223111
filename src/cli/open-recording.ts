// Opens the recording a query command reads (--db, else $KUBEWIRE_DB, else the state directory's), read-only.
import { Store } from "../store/store.js";
import { stateDirPath } from "../tls/state-dir.js";
import { defaultDbPath } from "../session/db-path.js";

export function openRecording(opts: { db?: string; stateDir?: string }): Store {
  return Store.open(defaultDbPath(stateDirPath(opts.stateDir), opts.db), { readonly: true });
}
