// The lists and watches relist-storm reads, as columns of numbers (typed arrays): 260,000 reads of a
// 1,000,000-exchange recording are five arrays, not 260,000 objects for the garbage collector to move.
import type { CollectionReads } from "./recording-store.js";

/** Collects reads in any order; done() sorts them oldest first (start time, then id). */
export class CollectionReadsBuilder {
  private n = 0;
  private id = new Float64Array(1024);
  private startedAt = new Float64Array(1024);
  private durationMs = new Float64Array(1024);
  private watch = new Uint8Array(1024);
  private of = new Uint32Array(1024);

  push(id: number, startedAt: number, durationMs: number, watch: boolean, of: number): void {
    if (this.n === this.id.length) this.grow();
    const i = this.n++;
    this.id[i] = id;
    this.startedAt[i] = startedAt;
    this.durationMs[i] = durationMs;
    this.watch[i] = watch ? 1 : 0;
    this.of[i] = of;
  }

  done(): CollectionReads {
    const { n, id, startedAt, durationMs, watch, of } = this;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => startedAt[a] - startedAt[b] || id[a] - id[b]);
    return pick({ id, startedAt, durationMs, watch, of }, order);
  }

  private grow(): void {
    const size = this.id.length * 2;
    const more = <T extends Float64Array | Uint8Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(size);
      b.set(a);
      return b;
    };
    this.id = more(this.id);
    this.startedAt = more(this.startedAt);
    this.durationMs = more(this.durationMs);
    this.watch = more(this.watch);
    this.of = more(this.of);
  }
}

/** The reads whose ids are not in `without`, in the same order. */
export function readsWithout(reads: CollectionReads, without: Set<number>): CollectionReads {
  const keep: number[] = [];
  for (let i = 0; i < reads.length; i++) if (!without.has(reads.id[i])) keep.push(i);
  return keep.length === reads.length ? reads : pick(reads, keep);
}

function pick(c: Omit<CollectionReads, "length">, order: ArrayLike<number>): CollectionReads {
  const n = order.length;
  const out = { length: n, id: new Float64Array(n), startedAt: new Float64Array(n), durationMs: new Float64Array(n), watch: new Uint8Array(n), of: new Uint32Array(n) };
  for (let i = 0; i < n; i++) {
    const j = order[i];
    out.id[i] = c.id[j];
    out.startedAt[i] = c.startedAt[j];
    out.durationMs[i] = c.durationMs[j];
    out.watch[i] = c.watch[j];
    out.of[i] = c.of[j];
  }
  return out;
}
