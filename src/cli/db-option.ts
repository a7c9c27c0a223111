// Where the query commands read from: --db, else $KUBEWIRE_DB, else the state directory's database.
import { Command } from "commander";
import { Store } from "../store/store.js";
import { stateDirPath } from "../tls/state-dir.js";
import { defaultDbPath } from "../session/db-path.js";

export function addDbOption(cmd: Command): Command {
  return cmd
    .option("--db <path>", "recording to read (default: $KUBEWIRE_DB, else STATE_DIR/kubewire.db)")
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)");
}

export function openRecording(opts: { db?: string; stateDir?: string }): Store {
  return Store.open(defaultDbPath(stateDirPath(opts.stateDir), opts.db), { readonly: true });
}
