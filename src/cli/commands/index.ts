// Every command, in the order `kubewire --help` lists them: one line per command file.
import type { Command } from "commander";
import { makeStartCommand } from "./start.js";
import { makeExecCommand } from "./exec.js";
import { makeLsCommand } from "./ls.js";
import { makeShowCommand } from "./show.js";
import { makeTailCommand } from "./tail.js";
import { makeFlagsCommand } from "./flags.js";
import { makeStatsCommand } from "./stats.js";
import { makeReplayCommand } from "./replay.js";
import { makeExportCommand } from "./export.js";
import { makeImportCommand } from "./import.js";
import { makePushCommand } from "./push.js";
import { makeDemoCommand } from "./demo.js";
import { makeDoctorCommand } from "./doctor.js";
import { makeStatusCommand } from "./status.js";
import { makeInjectCommand } from "./inject.js";
import { makeFaultsCommand } from "./faults.js";
import { makeRetriesCommand } from "./retries.js";
import { makeUiCommand } from "./ui.js";

export const commands: Array<() => Command> = [
  makeDemoCommand,
  makeStartCommand,
  makeExecCommand,
  makeDoctorCommand,
  makeLsCommand,
  makeShowCommand,
  makeTailCommand,
  makeFlagsCommand,
  makeRetriesCommand,
  makeStatsCommand,
  makeReplayCommand,
  makeExportCommand,
  makeImportCommand,
  makePushCommand,
  makeStatusCommand,
  makeInjectCommand,
  makeFaultsCommand,
  makeUiCommand,
];
