import type { LoggedUpdate } from './feedUpdate.ts';

/** Bounds of `LatestResults`. */
export interface LatestResultsLimits {
  /** Results whose window ended longer ago than this are not kept. */
  retentionMs: number;
  /** At most this many (metric, key) results; the oldest windows go first. */
  maxEntries: number;
  now: () => number;
}

/**
 * The latest result per (metric, key): what a client without a cursor receives as its snapshot.
 * Bounded by age and by count, so a metric with many keys cannot grow the feed without limit.
 *
 * @example
 *   const results = new LatestResults({ retentionMs: 7_200_000, maxEntries: 100_000, now: Date.now });
 *   results.record(update);
 *   results.snapshot('revenue_per_minute'); // oldest window first
 */
export class LatestResults {
  readonly #limits: LatestResultsLimits;
  readonly #byMetric = new Map<string, Map<string, LoggedUpdate>>();
  #entries = 0;

  constructor(limits: LatestResultsLimits) {
    this.#limits = limits;
  }

  /** How many (metric, key) results are held. */
  get size(): number {
    return this.#entries;
  }

  /** Keeps `u` as its key's latest result, unless its window is already past the retention. */
  record(u: LoggedUpdate): void {
    const { now, retentionMs, maxEntries } = this.#limits;
    if (u.windowEnd < now() - retentionMs) return;
    let byKey = this.#byMetric.get(u.metric);
    if (!byKey) {
      byKey = new Map();
      this.#byMetric.set(u.metric, byKey);
    }
    // Deleting first tells a new key from a known one, and puts the latest write last among equal windows.
    if (!byKey.delete(u.key)) this.#entries++;
    byKey.set(u.key, u);
    // Evicting to 90 % leaves room, so that a full map does not sort on every record.
    if (this.#entries > maxEntries) this.#evict(Math.floor(maxEntries * 0.9), -Infinity);
  }

  /** A tombstone: the key has no result any more. */
  forget(metric: string, key: string): void {
    if (this.#byMetric.get(metric)?.delete(key)) this.#entries--;
  }

  /** Drops results past the retention (and any over the count limit). */
  sweep(): void {
    this.#evict(this.#limits.maxEntries, this.#limits.now() - this.#limits.retentionMs);
  }

  /** Every result of a metric whose topic is gone. */
  dropMetric(metric: string): void {
    this.#entries -= this.#byMetric.get(metric)?.size ?? 0;
    this.#byMetric.delete(metric);
  }

  /** Latest result per key of a metric, oldest window first. */
  snapshot(metric: string): LoggedUpdate[] {
    return [...(this.#byMetric.get(metric)?.values() ?? [])].sort((a, b) => a.windowEnd - b.windowEnd);
  }

  /** Removes the oldest windows until at most `targetEntries` remain and none ended before `olderThan`. */
  #evict(targetEntries: number, olderThan: number): void {
    const all: LoggedUpdate[] = [];
    for (const byKey of this.#byMetric.values()) for (const u of byKey.values()) all.push(u);
    all.sort((a, b) => a.windowEnd - b.windowEnd);
    for (const u of all) {
      if (this.#entries <= targetEntries && u.windowEnd >= olderThan) break;
      const byKey = this.#byMetric.get(u.metric)!;
      byKey.delete(u.key);
      if (!byKey.size) this.#byMetric.delete(u.metric);
      this.#entries--;
    }
  }
}
