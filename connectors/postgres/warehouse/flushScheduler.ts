/** What a `FlushScheduler` flushes and when. */
export interface FlushPolicy<B> {
  /** Flush once this many records are pending. */
  batchRecords(): number;
  /** Flush at the latest this long after the oldest pending record arrived. */
  lingerMs(): number;
  /** Takes everything pending as one batch (the pending records are then none). */
  takePending(): B;
  /** Makes a batch durable; failures are the batch's records' business, not the scheduler's. */
  write(batch: B): Promise<void>;
}

/**
 * Batching of a writer: counts pending records, flushes when a batch is full or has lingered,
 * and runs flushes one after another (a flush never overlaps another). `flush()` forces one.
 *
 * @example
 *   const scheduler = new FlushScheduler({ batchRecords: () => 5000, lingerMs: () => 500, takePending, write });
 *   pending.push(row); scheduler.added();
 */
export class FlushScheduler<B> {
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private pending = 0;
  private oldestPendingAt = 0;
  private readonly policy: FlushPolicy<B>;

  constructor(policy: FlushPolicy<B>) {
    this.policy = policy;
  }

  /** One more record is pending. */
  added(): void {
    if (this.pending === 0) this.oldestPendingAt = Date.now();
    this.pending++;
    if (this.pending >= this.policy.batchRecords()) this.schedule();
    else this.armTimer();
  }

  /** Writes everything pending (after any flush under way); rejects when that write does. */
  flush(): Promise<void> {
    const run = this.chain.then(() => this.drain(true));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Cancels the linger timer: the last sink of the writer is closing. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.chain = this.chain.then(() => {
      this.scheduled = false;
      return this.drain(false);
    });
  }

  private armTimer(): void {
    if (this.timer || this.pending === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.schedule();
      },
      Math.max(0, this.policy.lingerMs() - (Date.now() - this.oldestPendingAt)),
    );
  }

  /**
   * Writes everything pending once the batch is full or has lingered (always when forced). All
   * members' pending rows go into the same batch: outputs of one input reach every sink in the
   * same tick, so this cut never splits an input record between tables.
   */
  private async drain(force: boolean): Promise<void> {
    while (this.pending > 0 && (force || this.due())) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      const batch = this.policy.takePending();
      this.pending = 0;
      this.oldestPendingAt = 0;
      await this.policy.write(batch);
    }
    this.armTimer();
  }

  private due(): boolean {
    return this.pending >= this.policy.batchRecords() || Date.now() - this.oldestPendingAt >= this.policy.lingerMs();
  }
}
