// What every request handler of the simulated cluster is given: the cluster's state (ApiContext)
// and the admitted request it is answering (Call).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestInfo } from "../types.js";
import type { Identity } from "./rbac.js";
import type { Store } from "./store.js";

export interface ApiContext {
  store: Store;
  /** bearer token → identity */
  tokens: Map<string, Identity>;
  /** "user:password" → identity */
  basic: Map<string, Identity>;
  slowMs: number;
  bigListBytes: number;
  /** "host:port" the cluster reports in /api serverAddressByClientCIDRs */
  serverAddress: () => string;
  /** registers a cleanup run by close(); returns the unregister function */
  track: (stop: () => void) => () => void;
  countRequest: () => void;
}

/** An admitted request: who sent it, what it asks, and the headers every answer to it carries. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  id: Identity;
  info: RequestInfo;
  url: URL;
  headers: Record<string, string>;
}

export type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
