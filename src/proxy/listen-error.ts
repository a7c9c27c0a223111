// The one-line error for a port kubewire cannot listen on (the proxy's own, or one a session holds for it).
import { UserError } from "../errors.js";

export function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === "EADDRINUSE") return new UserError(`cannot listen on ${host}:${port}: the port is in use`, "choose another with --listen HOST:PORT (port 0 picks a free one)");
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND") return new UserError(`cannot listen on ${host}: no such local address`);
  if (err.code === "EACCES") return new UserError(`cannot listen on ${host}:${port}: permission denied`);
  return err;
}
