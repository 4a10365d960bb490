import type { LoggedUpdate } from './feedUpdate.ts';

/** A partition's recent updates; every record at or after `from` is in `items`. */
interface Tail {
  from: number;
  items: LoggedUpdate[];
}

/**
 * The most recent updates per partition, so that a client resuming from a recent cursor is served
 * from memory instead of a Kafka read.
 *
 * @example
 *   const tails = new ReplayTails(5_000);
 *   tails.start('metrics.x/0', 120);
 *   tails.push(update);
 *   tails.read('metrics.x/0', 120, 130); // undefined once memory no longer reaches back to 120
 */
export class ReplayTails {
  readonly #perPartition: number;
  readonly #tails = new Map<string, Tail>();

  /** `perPartition`: how many recent updates are kept per partition (at least). */
  constructor(perPartition: number) {
    this.#perPartition = perPartition;
  }

  /** An empty tail for a partition the feed starts reading at `from`. */
  start(tp: string, from: number): void {
    this.#tails.set(tp, { from, items: [] });
  }

  /** Appends the next update of its partition. */
  push(u: LoggedUpdate): void {
    let tail = this.#tails.get(u.tp);
    if (!tail) {
      tail = { from: u.offset, items: [] };
      this.#tails.set(u.tp, tail);
    }
    tail.items.push(u);
    // Trim in halves so that a push stays O(1) amortised.
    if (tail.items.length >= this.#perPartition * 2) {
      const dropped = tail.items.splice(0, tail.items.length - this.#perPartition);
      tail.from = dropped[dropped.length - 1].offset + 1;
    }
  }

  /** The updates of `tp` in [from, to), or undefined when memory no longer holds `from`. */
  read(tp: string, from: number, to: number): LoggedUpdate[] | undefined {
    const tail = this.#tails.get(tp);
    if (!tail || from < tail.from) return undefined;
    const items = tail.items;
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid].offset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: LoggedUpdate[] = [];
    for (let i = lo; i < items.length && items[i].offset < to; i++) out.push(items[i]);
    return out;
  }

  drop(tp: string): void {
    this.#tails.delete(tp);
  }
}
