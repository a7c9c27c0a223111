// UserError: bad input from the person at the terminal. Thrown anywhere, caught
// once by the CLI's top level, printed as one line ("error: ...") with exit 2.

export class UserError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, hint?: string, exitCode = 2) {
    super(message);
    this.name = "UserError";
    this.hint = hint;
    this.exitCode = exitCode;
  }
}
