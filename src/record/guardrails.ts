// Guardrails for a capture nobody watches (an in-cluster sidecar): --capture-for stops recording
// after a while but keeps forwarding; --max-db-size prunes the oldest exchanges so the store stays bounded.
import { Store } from "../store/store.js";
import type { Exchange } from "../types.js";

export interface Sink {
  record(exchange: Exchange): void;
}

/** A sink that passes records on until captureForMs has gone by since it was made, then drops them silently (by design, not counted as lost). */
export function captureFor(sink: Sink, captureForMs: number | undefined, onStop: () => void): Sink {
  if (!captureForMs || captureForMs <= 0) return sink;
  const until = Date.now() + captureForMs;
  let stopped = false;
  return {
    record: (ex) => {
      if (!stopped && Date.now() >= until) {
        stopped = true;
        onStop();
      }
      if (!stopped) sink.record(ex);
    },
  };
}

/** Prunes dbPath to maxBytes now and every intervalMs on its own connection; stop() ends it. */
export function startPruner(dbPath: string, maxBytes: number, warn: (line: string) => void, intervalMs = 5000): { pruneNow(): number; stop(): void } {
  const store = Store.open(dbPath);
  const pruneNow = (): number => {
    try {
      return store.pruneToSize(maxBytes);
    } catch (err) {
      warn(`kubewire: --max-db-size: pruning failed: ${(err as Error).message}`);
      return 0;
    }
  };
  pruneNow();
  const timer = setInterval(pruneNow, intervalMs);
  timer.unref();
  return {
    pruneNow,
    stop: () => {
      clearInterval(timer);
      pruneNow();
      store.close();
    },
  };
}
