import { createLogger } from '../core/log.ts';
import { OffsetTracker } from '../engine/offsetTracker.ts';

const log = createLogger('runner');

/** How much one partition may have in flight (fetched, not yet durable). */
export interface InFlightLimits {
  records: number;
  bytes: number;
}

/** What the partition flow needs from the consumer and the metrics. */
export interface FlowHooks {
  resume(topic: string, partition: number): void;
  pausedChanged(paused: number): void;
}

/**
 * Per-partition state of a running topology: offset tracking (commit-after-durable), lag, and
 * backpressure. At `limits.records` records or `limits.bytes` bytes in flight (a few large
 * records weigh as much as many small ones) the batch loop first waits for room (both back
 * under half), woken by the ack that makes it, and goes on with the same batch: pausing the
 * fetch instead would leave the consumer asleep (kafkajs sleeps out its fetch wait when every
 * partition is paused) once there is room again. Only a wait that outlasts `roomWaitMs` (a
 * stalled sink) pauses the partition, which resumes from the ack that makes room.
 */
export class PartitionFlow {
  private readonly trackers = new Map<string, OffsetTracker>();
  private readonly paused = new Set<string>();
  private readonly lag = new Map<string, number>();
  /** Batch loops waiting for room, by partition: resolved with true when there is room. */
  private readonly waiting = new Map<string, (room: boolean) => void>();
  private readonly topology: string;
  private limits: InFlightLimits;
  private readonly hooks: FlowHooks;
  /** When a record last became durable (readiness: a partition with lag and no progress stalls). */
  lastProgressAt = Date.now();

  constructor(topology: string, limits: InFlightLimits, hooks: FlowHooks) {
    this.topology = topology;
    this.limits = limits;
    this.hooks = hooks;
  }

  /**
   * Raises the limits for a sink that holds `batch` of a partition before acking any of it: room
   * for that batch and the next one filling behind it.
   */
  allowSinkBatch(batch: InFlightLimits): void {
    this.limits = {
      records: Math.max(this.limits.records, 2 * batch.records),
      bytes: Math.max(this.limits.bytes, 2 * batch.bytes),
    };
  }

  get inFlightLimits(): InFlightLimits {
    return this.limits;
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

  /** After a record went in: true when the partition has as much in flight as it may. */
  isFull(tracker: OffsetTracker): boolean {
    return tracker.inFlight >= this.limits.records || tracker.inFlightBytes >= this.limits.bytes;
  }

  /** Back under half of both limits: a waiting batch loop may go on. */
  private hasRoom(tracker: OffsetTracker): boolean {
    return tracker.inFlight <= this.limits.records / 2 && tracker.inFlightBytes <= this.limits.bytes / 2;
  }

  /**
   * Waits until the partition has room again (true), or `timeoutMs` passed or its tracking was
   * reset by an assignment or a rewind (false).
   */
  waitForRoom(topic: string, partition: number, tracker: OffsetTracker, timeoutMs: number): Promise<boolean> {
    if (this.hasRoom(tracker)) return Promise.resolve(true);
    const key = `${topic}/${partition}`;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const settle = (room: boolean) => {
        clearTimeout(timer);
        if (this.waiting.get(key) === settle) this.waiting.delete(key);
        resolve(room);
      };
      this.waiting.get(key)?.(false);
      this.waiting.set(key, settle);
    });
  }

  /** The wait for room timed out (a stalled sink): pause the fetch until there is room. */
  pause(topic: string, partition: number, tracker: OffsetTracker): void {
    this.paused.add(`${topic}/${partition}`);
    this.hooks.pausedChanged(this.paused.size);
    const fields = {
      topology: this.topology,
      topic,
      partition,
      inFlight: tracker.inFlight,
      inFlightBytes: tracker.inFlightBytes,
    };
    log.warn(fields, 'partition paused: too much in flight');
  }

  /** Pauses a partition's fetch until the next reset (an exactly-once runner that was fenced). */
  hold(topic: string, partition: number): void {
    this.paused.add(`${topic}/${partition}`);
    this.hooks.pausedChanged(this.paused.size);
  }

  /** A record of the partition is durable: note progress; wake a wait for room, or resume a pause. */
  recordDone(topic: string, partition: number, tracker: OffsetTracker): void {
    this.lastProgressAt = Date.now();
    if (!this.hasRoom(tracker)) return;
    const key = `${topic}/${partition}`;
    this.waiting.get(key)?.(true);
    if (!this.paused.has(key)) return;
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
    for (const wake of [...this.waiting.values()]) wake(false);
    for (const t of this.trackers.values()) t.reset();
    this.trackers.clear();
    // The consumer keeps a pause across rebalances and rewinds, and the acks that would have
    // resumed it are forgotten here: resume now, or the partition is never fetched again (an
    // exactly-once zombie whose paused batch was fenced stalled its partition for good this way).
    for (const key of this.paused) {
      const i = key.lastIndexOf('/');
      this.hooks.resume(key.slice(0, i), Number(key.slice(i + 1)));
    }
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
