// Every command, in the order `kubewire --help` lists them: one line per command file.
import type { Command } from "commander";
import { makeStartCommand } from "./start.js";
import { makeExecCommand } from "./exec.js";
import { makeLsCommand } from "./ls.js";
import { makeShowCommand } from "./show.js";
import { makeDemoCommand } from "./demo.js";

export const commands: Array<() => Command> = [
  makeStartCommand,
  makeExecCommand,
  makeLsCommand,
  makeShowCommand,
  makeDemoCommand,
];
