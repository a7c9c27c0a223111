// How an error ends a run, printed once: a UserError is its line (and hint) and its exit code, 2 unless
// it says otherwise; anything else is a bug, exit 70, with the stack only under --debug. Without
// commander, so `exec`'s fast start (exec-steps.ts) ends as program.ts does.
import { UserError } from "../errors.js";

export function errorExitCode(err: unknown, debug: boolean): number {
  if (err instanceof UserError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`error: internal error: ${e?.message ?? String(err)}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  else process.stderr.write("this is a bug in kubewire; run again with --debug for the stack trace\n");
  return 70;
}
