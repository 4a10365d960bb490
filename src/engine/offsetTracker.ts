/**
 * Commit-after-durable bookkeeping for one partition. Offsets are registered in fetch order and
 * marked done in any order; the committable offset is one past the longest run of done offsets
 * from the start, so out-of-order completion never commits past an unfinished record.
 */
export class OffsetTracker {
  private readonly pending: bigint[] = [];
  /** Bytes of each pending record, in the same order. */
  private readonly sizes: number[] = [];
  private bytes = 0;
  private readonly done = new Set<bigint>();
  private head = 0;
  private committable: bigint | undefined;
  private lastCommitted: bigint | undefined;

  /** Records in flight (registered, not yet done or not yet passed by the committable mark). */
  get inFlight(): number {
    return this.pending.length - this.head;
  }

  /** Bytes in flight: the sizes given to `register`, until their records are passed. */
  get inFlightBytes(): number {
    return this.bytes;
  }

  register(offset: bigint, bytes = 0): void {
    this.pending.push(offset);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  markDone(offset: bigint): void {
    this.done.add(offset);
    while (this.head < this.pending.length && this.done.has(this.pending[this.head])) {
      this.bytes -= this.sizes[this.head];
      const o = this.pending[this.head++];
      this.done.delete(o);
      this.committable = o + 1n;
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The offset to commit now, if it moved since the last commit. */
  takeCommit(): string | undefined {
    if (this.committable === undefined || this.committable === this.lastCommitted) return undefined;
    this.lastCommitted = this.committable;
    return this.committable.toString();
  }

  /** Forget everything (partition revoked or rewound). */
  reset(): void {
    this.pending.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
    this.head = 0;
    this.done.clear();
    this.committable = undefined;
    this.lastCommitted = undefined;
  }
}
