import { createLogger } from '../core/log.ts';
import { OffsetTracker } from '../engine/offsetTracker.ts';

const log = createLogger('runner');

/** What the partition flow needs from the consumer and the metrics. */
export interface FlowHooks {
  resume(topic: string, partition: number): void;
  pausedChanged(paused: number): void;
}

/**
 * Per-partition state of a running topology: offset tracking (commit-after-durable), lag, and
 * backpressure. A partition pauses at `maxInFlight` records in flight and resumes as soon as half
 * of them are durable — from the ack that gets it there, so a paused partition never waits for a
 * timer once there is room again.
 */
export class PartitionFlow {
  private readonly trackers = new Map<string, OffsetTracker>();
  private readonly paused = new Set<string>();
  private readonly lag = new Map<string, number>();
  private readonly topology: string;
  private readonly maxInFlight: number;
  private readonly hooks: FlowHooks;
  /** When a record last became durable (readiness: a partition with lag and no progress stalls). */
  lastProgressAt = Date.now();

  constructor(topology: string, maxInFlight: number, hooks: FlowHooks) {
    this.topology = topology;
    this.maxInFlight = maxInFlight;
    this.hooks = hooks;
  }

  tracker(topic: string, partition: number): OffsetTracker {
    const key = `${topic}/${partition}`;
    let t = this.trackers.get(key);
    if (!t) {
      t = new OffsetTracker();
      this.trackers.set(key, t);
    }
    return t;
  }

  isPaused(topic: string, partition: number): boolean {
    return this.paused.has(`${topic}/${partition}`);
  }

  setLag(topic: string, partition: number, lag: number): void {
    this.lag.set(`${topic}/${partition}`, lag);
  }

  /** After a record went in: true when the partition must pause (the caller pauses the fetch). */
  mustPause(topic: string, partition: number, tracker: OffsetTracker): boolean {
    if (tracker.inFlight < this.maxInFlight) return false;
    this.paused.add(`${topic}/${partition}`);
    this.hooks.pausedChanged(this.paused.size);
    log.warn(
      { topology: this.topology, topic, partition, inFlight: tracker.inFlight },
      'partition paused: too much in flight',
    );
    return true;
  }

  /** A record of the partition is durable: note progress, resume the partition if it has room. */
  recordDone(topic: string, partition: number, tracker: OffsetTracker): void {
    this.lastProgressAt = Date.now();
    const key = `${topic}/${partition}`;
    if (!this.paused.has(key) || tracker.inFlight > this.maxInFlight / 2) return;
    this.paused.delete(key);
    this.hooks.pausedChanged(this.paused.size);
    this.hooks.resume(topic, partition);
  }

  /** The offsets to commit now, per partition that moved. */
  takeCommits(): { topic: string; partition: number; offset: string }[] {
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const [key, t] of this.trackers) {
      const offset = t.takeCommit();
      if (offset === undefined) continue;
      const i = key.lastIndexOf('/');
      offsets.push({ topic: key.slice(0, i), partition: Number(key.slice(i + 1)), offset });
    }
    return offsets;
  }

  /** Forget everything fetched (an assignment or a rewind re-fetches from the committed offsets). */
  reset(): void {
    for (const t of this.trackers.values()) t.reset();
    this.trackers.clear();
    this.paused.clear();
    this.hooks.pausedChanged(0);
  }

  get inFlight(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.inFlight;
    return n;
  }

  get totalLag(): number {
    let n = 0;
    for (const l of this.lag.values()) n += l;
    return n;
  }

  get pausedCount(): number {
    return this.paused.size;
  }
}
