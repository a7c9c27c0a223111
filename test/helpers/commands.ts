// The names of the registered CLI commands, so that tests can cover each one that exists.
import { buildProgram } from "../../src/cli/main.js";

export function readCommands(): string[] {
  return buildProgram().commands.map((c) => c.name());
}
