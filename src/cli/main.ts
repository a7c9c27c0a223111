// The CLI's top level: the program with every command of the registry (cli/program.ts builds it
// and catches every error once).
import type { Command } from "commander";
import { commands } from "./commands/index.js";
import { buildProgramOf, exitCodeFor, runProgram } from "./program.js";

export { exitCodeFor };

export function buildProgram(): Command {
  return buildProgramOf(commands);
}

export async function main(argv: string[]): Promise<void> {
  await runProgram(argv, commands);
}
