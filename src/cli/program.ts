// The CLI's top level for a given list of commands: builds the program and catches every error
// once: a UserError is one line and exit 2; anything else is a bug (see --debug). main.ts runs it
// with every command; bin/kubewire.js runs `exec` with its command alone, so a wrapped run starts fast.
import { Command, CommanderError } from "commander";
import { errorExitCode } from "./error-exit.js";
import { debugRequested, kubewireVersion, quietOnClosedPipe } from "./top-level.js";

export function buildProgramOf(commands: Array<() => Command>): Command {
  const program = new Command("kubewire")
    .description("A recording proxy for the Kubernetes API: see why a program cannot talk to its cluster.")
    .version(kubewireVersion(), "--version", "print kubewire's version")
    .option("--debug", "print stack traces for internal errors")
    .showHelpAfterError("(run kubewire --help for usage)")
    .exitOverride();
  program.configureOutput({ outputError: (text, write) => write(text) });
  for (const make of commands) program.addCommand(make().exitOverride());
  return program;
}

export async function runProgram(argv: string[], commands: Array<() => Command>): Promise<void> {
  quietOnClosedPipe(process.stdout);
  const program = buildProgramOf(commands);
  const debug = debugRequested(argv);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeFor(err, debug);
  }
}

export function exitCodeFor(err: unknown, debug: boolean): number {
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
    return err.exitCode === 0 ? 0 : 2;
  }
  return errorExitCode(err, debug);
}
