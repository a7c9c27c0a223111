// The faults that act on a response body as it flows: a bandwidth limit and the end of a watch
// after N events or seconds (optionally with an in-stream ERROR event). The forwarder pipes
// the upstream body through faultPipe(exchange, upstream, client), which is the identity without a fault.
import { Transform, type Readable } from "node:stream";
import type { Exchange } from "../types.js";
import { errorEvent } from "./answers.js";
import type { FaultAction } from "./rules.js";

const pending = new WeakMap<Exchange, FaultAction>();

/** Marks an exchange whose response body a fault acts on (called by the engine before forwarding). */
export function shapeBody(exchange: Exchange, action: FaultAction): void {
  pending.set(exchange, action);
}

/** The stream to pipe into the client: `upstream` itself, or a Transform applying the exchange's fault. */
export function faultPipe(exchange: Exchange, upstream: Readable, client: NodeJS.EventEmitter): Readable {
  const action = pending.get(exchange);
  if (!action) return upstream;
  pending.delete(exchange);
  const t = action.endWatchAfterEvents !== undefined || action.endWatchAfterSeconds !== undefined ? watchEnder(action, upstream, client) : throttle(action.bytesPerSecond ?? Infinity);
  upstream.pipe(t);
  return t;
}

/** Lets bytes through at most at `bytesPerSecond` (in slices, so a large chunk is spread over time too). */
function throttle(bytesPerSecond: number): Transform {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let offset = 0;
      const next = () => {
        if (offset >= chunk.length) return done();
        const part = chunk.subarray(offset, offset + slice);
        offset += part.length;
        this.push(part);
        setTimeout(next, (part.length / bytesPerSecond) * 1000);
      };
      next();
    },
  });
}

/** Passes a watch's events until the Nth or the deadline, adds the ERROR event if asked, ends the response and cancels the upstream watch. */
function watchEnder(action: FaultAction, upstream: Readable, client: NodeJS.EventEmitter): Transform {
  let events = 0;
  let ended = false;
  let timer: NodeJS.Timeout | null = null;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (ended) return done();
      let from = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, nl + 1)) {
        events++;
        if (action.endWatchAfterEvents !== undefined && events >= action.endWatchAfterEvents) {
          this.push(chunk.subarray(from, nl + 1));
          end();
          return done();
        }
      }
      this.push(chunk.subarray(from));
      done();
    },
    flush(done) {
      if (timer) clearTimeout(timer);
      done();
    },
  });
  const end = () => {
    if (ended) return;
    ended = true;
    if (timer) clearTimeout(timer);
    if (action.status) t.push(errorEvent(action.status, action.message));
    t.push(null);
    // once the client has the end of the stream, the upstream watch is of no use
    client.once("close", () => {
      upstream.unpipe(t);
      upstream.destroy();
    });
  };
  if (action.endWatchAfterEvents === 0) setImmediate(end);
  if (action.endWatchAfterSeconds !== undefined) {
    timer = setTimeout(end, action.endWatchAfterSeconds * 1000);
    timer.unref();
  }
  return t;
}
