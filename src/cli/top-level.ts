// What the CLI's top level does before any command runs: kubewire's version for --version, whether
// --debug is kubewire's own (only before "--"), and a quiet end when the reader of stdout goes away.
import { readFileSync } from "node:fs";

/** kubewire's version, from its package.json (two folders above dist/cli and src/cli). */
export function kubewireVersion(): string {
  try {
    return String(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version ?? "unknown");
  } catch {
    return "unknown";
  }
}

/** --debug is kubewire's only when it comes before "--" (after it, the words belong to the program exec runs). */
export function debugRequested(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--debug");
}

/** A reader that went away (`kubewire ls -o json | head -1`) ends the run quietly, as cat does: no stack trace. */
export function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}
