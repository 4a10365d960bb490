/** Partitions of one topic to pause or resume; no `partitions`: the whole topic. */
export interface TopicPartitionsSelector {
  topic: string;
  partitions?: number[];
}

/**
 * Which partitions a consumer has paused, with kafkajs' semantics (its SubscriptionState): pausing
 * a topic without partitions pauses all of them, including any assigned later; resuming single
 * partitions of a paused topic resumes just those. Survives rebalances, like kafkajs' does.
 *
 * @example
 *   const paused = new PauseState();
 *   paused.pause([{ topic: 'orders' }]);
 *   paused.resume([{ topic: 'orders', partitions: [2] }]);
 *   paused.isPaused('orders', 2); // false
 */
export class PauseState {
  readonly #topics = new Map<string, { all: boolean; paused: Set<number>; resumed: Set<number> }>();

  pause(selectors: TopicPartitionsSelector[]): void {
    for (const { topic, partitions } of selectors) {
      const s = this.#state(topic);
      if (partitions === undefined) {
        s.paused.clear();
        s.resumed.clear();
        s.all = true;
        continue;
      }
      for (const p of partitions) {
        s.paused.add(p);
        s.resumed.delete(p);
      }
      s.all = false;
    }
  }

  resume(selectors: TopicPartitionsSelector[]): void {
    for (const { topic, partitions } of selectors) {
      const s = this.#state(topic);
      if (partitions === undefined) {
        s.paused.clear();
        s.resumed.clear();
        s.all = false;
        continue;
      }
      for (const p of partitions) {
        s.paused.delete(p);
        if (s.all) s.resumed.add(p);
      }
    }
  }

  isPaused(topic: string, partition: number): boolean {
    const s = this.#topics.get(topic);
    if (!s) return false;
    return (s.all && !s.resumed.has(partition)) || s.paused.has(partition);
  }

  /** The paused partitions among `assigned` (topic → partitions), as kafkajs' `paused()` lists them. */
  paused(assigned: Map<string, number[]>): { topic: string; partitions: number[] }[] {
    return [...assigned]
      .map(([topic, ps]) => ({ topic, partitions: ps.filter((p) => this.isPaused(topic, p)).sort((a, b) => a - b) }))
      .filter((t) => t.partitions.length > 0);
  }

  #state(topic: string) {
    let s = this.#topics.get(topic);
    if (!s) {
      s = { all: false, paused: new Set(), resumed: new Set() };
      this.#topics.set(topic, s);
    }
    return s;
  }
}
