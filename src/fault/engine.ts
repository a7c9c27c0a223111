// The fault engine: holds the rules with their counters, decides at a request's arrival whether
// one fires (first matching rule wins), and applies its action through a narrow context: answer,
// reset, hang, delay, goaway, or a body transform (streams.ts) for the forwarder to pipe through.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Exchange } from "../types.js";
import { answerFor } from "./answers.js";
import { actionKind, type FaultAction, type FaultMatch, type FaultRule } from "./rules.js";
import { shapeBody } from "./streams.js";

/** Where records go (the proxy's ExchangeSink, declared here so that fault never imports proxy). */
export interface RecordSink {
  record(exchange: Exchange): void;
}

/** What an injected exchange says about itself (`show -o json`, `ls --injected`, `retries`). */
export interface Injected {
  rule: string;
  action: string;
}

export interface RuleState {
  rule: FaultRule;
  /** requests that matched (before after/times/probability/until) */
  matched: number;
  /** times the action was applied */
  fired: number;
}

/** Glob to RegExp: `**` any text, `*` any text but "/" (for paths), `?` one character. */
export function globRegExp(glob: string, slashIsSpecial: boolean): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += slashIsSpecial ? "[^/]*" : ".*";
    else if (c === "?") re += ".";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

type Matcher = (ex: Exchange) => boolean;

function compile(m: FaultMatch, action: FaultAction): Matcher {
  const tests: Matcher[] = [];
  const eq = (value: string | undefined, get: (ex: Exchange) => string) => {
    if (value !== undefined) tests.push((ex) => get(ex) === value);
  };
  eq(m.verb, (ex) => ex.info.verb);
  eq(m.group, (ex) => ex.info.apiGroup);
  eq(m.resource, (ex) => ex.info.resource);
  eq(m.subresource, (ex) => ex.info.subresource);
  eq(m.namespace, (ex) => ex.info.namespace);
  eq(m.name, (ex) => ex.info.name);
  eq(m.method, (ex) => ex.request.method);
  if (m.userAgent !== undefined) {
    const re = globRegExp(m.userAgent, false);
    tests.push((ex) => re.test(ex.client.userAgent));
  }
  if (m.path !== undefined) {
    const re = globRegExp(m.path, true);
    tests.push((ex) => re.test(ex.request.path));
  }
  // ending a watch means nothing for other requests
  if (action.endWatchAfterEvents !== undefined || action.endWatchAfterSeconds !== undefined) tests.push((ex) => ex.info.verb === "watch");
  return (ex) => {
    for (const t of tests) if (!t(ex)) return false;
    return true;
  };
}

export interface FaultEngineOptions {
  /** told of every request as it arrives (metrics: open watches) */
  onArrival?: (exchange: Exchange) => void;
  /** told of every fault applied (metrics, logs) */
  onInjected?: (exchange: Exchange, injected: Injected) => void;
  /** for tests: the random source of `probability` and `jitterMs` */
  random?: () => number;
  now?: () => number;
}

export class FaultEngine {
  private states: Array<RuleState & { matches: Matcher }> = [];
  private counter = 0;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(rules: FaultRule[] = [], private readonly opts: FaultEngineOptions = {}) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    for (const r of rules) this.add(r);
  }

  /** The next default name (fault-N) for a rule given without one. */
  nextIndex(): number {
    return this.counter + 1;
  }

  add(rule: FaultRule): void {
    if (this.states.some((s) => s.rule.name === rule.name)) throw new DuplicateRule(rule.name);
    this.counter++;
    this.states.push({ rule, matched: 0, fired: 0, matches: compile(rule.match, rule.action) });
  }

  /** Removes a rule by name; false when there is none. */
  remove(name: string): boolean {
    const i = this.states.findIndex((s) => s.rule.name === name);
    if (i === -1) return false;
    this.states.splice(i, 1);
    return true;
  }

  list(): RuleState[] {
    return this.states.map(({ rule, matched, fired }) => ({ rule, matched, fired }));
  }

  get size(): number {
    return this.states.length;
  }

  /** The rule that fires for this request, its counters advanced; null when none does. */
  decide(ex: Exchange): FaultRule | null {
    if (this.states.length === 0) return null;
    const now = this.now();
    for (const s of this.states) {
      const { rule } = s;
      if (rule.until !== undefined && now > rule.until) continue;
      if (!s.matches(ex)) continue;
      s.matched++;
      if (rule.after !== undefined && s.matched <= rule.after) continue;
      if (rule.times !== undefined && s.fired >= rule.times) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      s.fired++;
      return rule;
    }
    return null;
  }

  /**
   * At a request's arrival, the rule that acts on it, or null (forward it). A caller with a rule makes the
   * request objects (an HTTP/2 stream has none until then) and hands them to apply.
   */
  arrive(exchange: Exchange): FaultRule | null {
    this.opts.onArrival?.(exchange);
    return this.decide(exchange);
  }

  /** handle's second half: applies the rule `arrive` returned. */
  apply(rule: FaultRule, req: IncomingMessage, res: ServerResponse, exchange: Exchange, t0: number, sink: RecordSink, forward: () => void): void {
    const { action } = rule;
    const injected: Injected = { rule: rule.name, action: actionKind(action) };
    exchange.injected = injected;
    this.opts.onInjected?.(exchange, injected);
    const delay = (action.delayMs ?? 0) + (action.jitterMs ? Math.floor(this.random() * action.jitterMs) : 0);
    if (delay <= 0) return applyFault(action, { req, res, exchange, t0, sink, forward });
    const timer = setTimeout(() => {
      res.off("close", gone);
      applyFault(action, { req, res, exchange, t0, sink, forward });
    }, delay);
    const gone = () => {
      clearTimeout(timer);
      clientGone(exchange, t0, sink, `the client closed the connection during kubewire's injected ${delay} ms delay (fault ${rule.name})`);
    };
    res.once("close", gone);
  }
}

export class DuplicateRule extends Error {
  constructor(readonly ruleName: string) {
    super(`a fault rule named "${ruleName}" already exists`);
  }
}

interface FaultContext {
  req: IncomingMessage;
  res: ServerResponse;
  exchange: Exchange;
  t0: number;
  sink: RecordSink;
  forward: () => void;
}

/** RST_STREAM's INTERNAL_ERROR (RFC 9113), what a Go server sends when a handler panics. */
const NGHTTP2_INTERNAL_ERROR = 2;

const round = (ms: number) => Math.round(ms * 100) / 100;

function clientGone(exchange: Exchange, t0: number, sink: RecordSink, message: string): void {
  exchange.error = { code: "CLIENT_ABORTED", message, phase: "headers" };
  exchange.timing.totalMs = round(performance.now() - t0);
  sink.record(exchange);
}

/** Applies one action (the delay is already over). */
export function applyFault(action: FaultAction, ctx: FaultContext): void {
  const { req, res, exchange, t0, sink } = ctx;
  const name = exchange.injected?.rule ?? "?";
  if (action.reset) {
    req.resume();
    exchange.error = { code: "ECONNRESET", message: `kubewire reset the connection on purpose (fault ${name})`, phase: "headers" };
    exchange.timing.totalMs = round(performance.now() - t0);
    const h2stream = (req as { stream?: { close(code: number): void } }).stream;
    if (h2stream) h2stream.close(NGHTTP2_INTERNAL_ERROR); // HTTP/2: RST_STREAM for this request only
    else {
      try {
        req.socket.resetAndDestroy(); // a TCP RST where the socket is plain TCP
      } catch {
        req.socket.destroy(); // over TLS: the connection closes without an answer
      }
    }
    sink.record(exchange);
    return;
  }
  if (action.hang) {
    req.resume();
    res.once("close", () => clientGone(exchange, t0, sink, `the client gave up while kubewire held the request without answering (fault ${name})`));
    return;
  }
  if (action.endWatchAfterEvents !== undefined || action.endWatchAfterSeconds !== undefined || action.bytesPerSecond !== undefined) {
    shapeBody(exchange, action);
    ctx.forward();
    return;
  }
  if (action.status !== undefined) {
    req.resume();
    const a = answerFor(action, exchange);
    res.writeHead(a.status, a.headers);
    res.end(a.body);
    const size = Buffer.byteLength(a.body);
    exchange.response = { status: a.status, headers: a.headers, body: { data: a.body, encoding: "utf8", truncated: false, size }, bytes: size }; // a response on purpose: `injected` says kubewire made it
    exchange.timing.ttfbMs = exchange.timing.totalMs = round(performance.now() - t0);
    sink.record(exchange);
    return;
  }
  if (action.goaway) {
    const session = (req as { stream?: { session?: { goaway?: () => void } } }).stream?.session;
    if (session?.goaway) session.goaway(); // HTTP/2: the client opens a new connection for what follows
    else res.shouldKeepAlive = false; // HTTP/1.1's nearest thing: Connection: close after this answer
  }
  ctx.forward();
}
