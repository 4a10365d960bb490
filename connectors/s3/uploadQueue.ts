/**
 * Orders and bounds uploads: jobs for one object key run one after another (a replayed batch
 * never lands before an older upload of it), and at most `maxConcurrent` jobs run at once (upload
 * memory is bounded); more wait their turn.
 *
 * @example await queue.run(batch.key, () => uploadObject(batch));
 */
export class UploadQueue {
  private freeSlots: number;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly keyChains = new Map<string, Promise<void>>();

  constructor(maxConcurrent: number) {
    this.freeSlots = maxConcurrent;
  }

  /** Runs `job` once every earlier job of `key` has settled and a slot is free. */
  run(key: string, job: () => Promise<void>): Promise<void> {
    const p = (this.keyChains.get(key) ?? Promise.resolve()).then(async () => {
      await this.acquireSlot();
      try {
        await job();
      } finally {
        this.releaseSlot();
      }
    });
    this.keyChains.set(key, p);
    void p.finally(() => {
      if (this.keyChains.get(key) === p) this.keyChains.delete(key);
    });
    return p;
  }

  private async acquireSlot(): Promise<void> {
    if (this.freeSlots > 0) {
      this.freeSlots--;
      return;
    }
    await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.freeSlots++;
  }
}
