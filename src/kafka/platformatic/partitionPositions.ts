/** Kafka topic names are [a-zA-Z0-9._-]: ':' cannot be part of one. */
const tp = (topic: string, partition: number) => `${topic}:${partition}`;

/**
 * Where a consumer reads each assigned partition next, with kafkajs' rules:
 * - a new group generation forgets every position (they are read again from the committed
 *   offsets), but not the seeks asked for;
 * - a seek is pending until the next fetch of an assigned partition applies it; while it is
 *   pending, the batch being handled for that partition is stale and its offsets resolve nothing;
 * - resolving offset n (the batch handler's `resolveOffset`) moves the position to n + 1, and
 *   only from a batch of the current generation.
 *
 * @example
 *   const positions = new PartitionPositions();
 *   positions.seek('orders', 0, 42n);
 *   positions.applySeeks(new Map([['orders', [0, 1]]])); // orders/0 now reads from 42
 */
export class PartitionPositions {
  readonly #next = new Map<string, bigint>();
  readonly #seeks = new Map<string, bigint>();
  #generation = 0;

  /** Bumped by every assignment (and consumer restart): batches of an older one are stale. */
  get generation(): number {
    return this.#generation;
  }

  newGeneration(): void {
    this.#next.clear();
    this.#generation++;
  }

  seek(topic: string, partition: number, offset: bigint): void {
    this.#seeks.set(tp(topic, partition), offset);
  }

  hasSeek(topic: string, partition: number): boolean {
    return this.#seeks.has(tp(topic, partition));
  }

  /** Applies the pending seeks of assigned partitions; seeks of others wait for an assignment. */
  applySeeks(assigned: Map<string, number[]>): void {
    if (!this.#seeks.size) return;
    for (const [topic, partitions] of assigned) {
      for (const p of partitions) {
        const key = tp(topic, p);
        const offset = this.#seeks.get(key);
        if (offset === undefined) continue;
        this.#seeks.delete(key);
        this.#next.set(key, offset);
      }
    }
  }

  get(topic: string, partition: number): bigint | undefined {
    return this.#next.get(tp(topic, partition));
  }

  set(topic: string, partition: number, next: bigint): void {
    this.#next.set(tp(topic, partition), next);
  }

  /** `offset` is handled: read on after it, unless `generation` is over or a seek is pending. */
  resolve(topic: string, partition: number, offset: bigint, generation: number): void {
    if (generation !== this.#generation || this.hasSeek(topic, partition)) return;
    this.#next.set(tp(topic, partition), offset + 1n);
  }

  /** The assigned partitions without a position yet, per topic. */
  missing(assigned: Map<string, number[]>): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const [topic, partitions] of assigned) {
      const ps = partitions.filter((p) => !this.#next.has(tp(topic, p)));
      if (ps.length) out.set(topic, ps);
    }
    return out;
  }
}
