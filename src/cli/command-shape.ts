// The shape of every command, as kubectl writes its own: complete fills an Options value from what
// commander parsed (defaults, parsing), validate checks it without side effects, and run acts on it,
// writing only to the `out`/`err` it is given, so a test can run a command in-process and read both.
import type { Command } from "commander";

/** Where a command writes: process.stdout/stderr, or a test's buffer. isTTY/columns decide colour and table fitting. */
export interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CommandIO {
  out: Sink;
  err: Sink;
}

/** What commander parsed: the positional arguments, then the options object. */
export interface RawInput {
  args: unknown[];
  opts: Record<string, any>;
}

export interface CommandSteps<O> {
  complete(raw: RawInput, env: NodeJS.ProcessEnv): O;
  /** throws a UserError naming the flag at fault; no side effects */
  validate(o: O): void;
  /** a returned number is the exit code (1: problems found, as flags and doctor use it) */
  run(o: O, io: CommandIO): Promise<number | void> | number | void;
}

/** Complete, Validate, Run: what the CLI does for every command, and what a test does in-process. */
export async function runSteps<O>(steps: CommandSteps<O>, raw: RawInput, io: CommandIO, env: NodeJS.ProcessEnv = process.env): Promise<number | void> {
  const o = steps.complete(raw, env);
  steps.validate(o);
  return steps.run(o, io);
}

/** A line writer for code that warns a line at a time. */
export function lineTo(sink: Sink): (line: string) => void {
  return (line) => void sink.write(`${line}\n`);
}

/** commander's action for a command: the three steps over the process's own streams. */
export function actionOf<O>(steps: CommandSteps<O>): (...a: any[]) => Promise<void> {
  return async (...a: any[]) => {
    const opts = (a[a.length - 1] as Command).opts();
    const code = await runSteps(steps, { args: a.slice(0, -2), opts }, { out: process.stdout, err: process.stderr });
    if (typeof code === "number") process.exitCode = code;
  };
}
