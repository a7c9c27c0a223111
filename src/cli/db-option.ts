// Where the query commands read from: --db (a SQLite file or a postgres:// URL), else $KUBEWIRE_DB, else the
// state directory's database. A --db of a scheme kubewire does not know is refused as the option is parsed.
import { Command, Option } from "commander";
import { parseDbSpec } from "../store/db-spec.js";

/** The --db option, checked when parsed (so a command never acts on a URL it cannot use); description per command. */
export function dbOption(description: string): Option {
  return new Option("--db <path|url>", description).argParser((value: string) => {
    parseDbSpec(value);
    return value;
  });
}

export function addDbOption(cmd: Command): Command {
  return cmd
    .addOption(dbOption("recording to read: a SQLite file or a postgres:// URL (default: $KUBEWIRE_DB, else STATE_DIR/kubewire.db)"))
    .option("--state-dir <path>", "state directory (default: $KUBEWIRE_HOME, else ~/.kubewire)");
}
