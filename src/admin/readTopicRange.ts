import { randomBytes } from 'node:crypto';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { EachBatchPayload, IHeaders } from '../kafka/kafkaTypes.ts';
import { topicRanges, type PartitionRange, type ReadStart } from './topicRanges.ts';

/**
 * The bounded reader of the operator commands (`inspect`, `replay-dlq`, `topics`). Unlike
 * `readRange` in src/kafka, which reads a range to its end, this one can stop early — after so
 * many records per partition, when a callback says so, when a topic has had enough, on a signal —
 * starts from a time or the last N records, reads several topics in one group join, and hands
 * over the raw headers.
 */

export type { PartitionRange, ReadStart } from './topicRanges.ts';

/** A record as read, before any decoding. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** What `onRecord` says: `false` stops the whole read, `'skip-topic'` stops reading the record's topic. */
export type RecordVerdict = boolean | 'skip-topic' | void;

/** Which records `readTopicRange` reads, and what it does with each. */
export interface TopicRangeOptions {
  /** Only these partitions (every partition when absent). */
  partitions?: number[];
  start?: ReadStart;
  /** Stop a partition after this many records. */
  maxPerPartition?: number;
  signal?: AbortSignal;
  /** Prefix of the throwaway consumer group id (never committed, deleted afterwards). */
  groupPrefix?: string;
  /** Also records of open and aborted transactions (default: read committed). */
  readUncommitted?: boolean;
  /** Called for each record, one at a time, in offset order within a partition. */
  onRecord(record: RawRecord, ctx: { heartbeat(): Promise<void> }): Promise<RecordVerdict> | RecordVerdict;
}

/** The ranges read, and whether the read ended before their ends. */
export interface TopicRangeResult {
  ranges: PartitionRange[];
  /** The read ended early: `onRecord` returned false or the signal aborted. */
  stopped: boolean;
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Progress of one read: how far each partition got, and which are still being read. */
class RangeRead {
  finished = false;
  stopped = false;
  readonly done: Promise<void>;
  private settle: (err?: unknown) => void = () => {};
  private readonly byTp: Map<string, PartitionRange>;
  private readonly remaining: Set<string>;
  private readonly position = new Map<string, bigint>();
  private readonly counts = new Map<string, number>();
  private readonly ranges: PartitionRange[];
  private readonly opts: TopicRangeOptions;

  constructor(ranges: PartitionRange[], opts: TopicRangeOptions) {
    this.ranges = ranges;
    this.opts = opts;
    this.byTp = new Map(ranges.map((r) => [tp(r.topic, r.partition), r]));
    this.remaining = new Set(ranges.filter((r) => r.start < r.high).map((r) => tp(r.topic, r.partition)));
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err === undefined ? resolve() : reject(err));
    });
  }

  get empty(): boolean {
    return this.remaining.size === 0;
  }

  /** Partitions still to read that start after the first offset the log holds. */
  seeks(): PartitionRange[] {
    return this.ranges.filter((r) => this.remaining.has(tp(r.topic, r.partition)) && r.start > r.low);
  }

  finish(early: boolean, err?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.stopped = early;
    this.settle(err);
  }

  /** Moves a partition's position forward; past its end, the partition is done. */
  advance(topic: string, partition: number, next: bigint): void {
    const key = tp(topic, partition);
    const range = this.byTp.get(key);
    if (!range || !this.remaining.has(key)) return;
    if (next > (this.position.get(key) ?? range.start)) this.position.set(key, next);
    if ((this.position.get(key) ?? range.start) >= range.high) this.retire(key);
  }

  /** Hands a batch's records in range to `onRecord`; pauses the partition once it is done. */
  async onBatch({ batch, heartbeat, pause }: EachBatchPayload): Promise<void> {
    const key = tp(batch.topic, batch.partition);
    const range = this.byTp.get(key);
    if (range && this.remaining.has(key)) {
      for (const m of batch.messages) {
        if (this.finished || !this.remaining.has(key)) break;
        const offset = BigInt(m.offset);
        // Offsets before the start (a fetch that raced the seek) or already seen (a restart) are skipped.
        if (offset < (this.position.get(key) ?? range.start)) continue;
        if (offset >= range.high) {
          this.advance(batch.topic, batch.partition, range.high);
          break;
        }
        const record: RawRecord = {
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          timestamp: Number(m.timestamp),
          key: m.key,
          value: m.value,
          headers: m.headers ?? {},
        };
        if (!(await this.deliver(key, record, heartbeat))) break;
        await heartbeat();
      }
    }
    if (!this.remaining.has(key)) pause();
  }

  /** One record to `onRecord` and what its answer means; false: stop going through the batch. */
  private async deliver(key: string, record: RawRecord, heartbeat: () => Promise<void>): Promise<boolean> {
    let verdict: RecordVerdict;
    try {
      verdict = await this.opts.onRecord(record, { heartbeat });
    } catch (err) {
      // Thrown out of eachBatch, kafkajs would fetch the batch again and again: end the read instead.
      this.finish(true, err);
      return false;
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    const next = BigInt(record.offset) + 1n;
    if (verdict === false) {
      this.advance(record.topic, record.partition, next);
      this.finish(true);
      return false;
    }
    if (verdict === 'skip-topic') {
      for (const r of this.ranges) if (r.topic === record.topic) this.retire(tp(r.topic, r.partition));
      return false;
    }
    if (this.opts.maxPerPartition !== undefined && count >= this.opts.maxPerPartition) {
      this.retire(key);
      return false;
    }
    this.advance(record.topic, record.partition, next);
    if (this.opts.signal?.aborted) {
      this.finish(true);
      return false;
    }
    return true;
  }

  private retire(key: string): void {
    this.remaining.delete(key);
    if (this.remaining.size === 0) this.finish(false);
  }
}

/**
 * Reads topics from a start position up to the end offsets they had when the read began, then
 * returns: a snapshot read, not a subscription. kafkajs needs a consumer group, so a unique
 * throwaway one is used, never committed and deleted at the end.
 *
 * @example
 *   await readTopicRange(kafka, 'oltp.orders.dlq', { start: { last: 10 }, onRecord: (r) => void out.push(r) });
 */
export async function readTopicRange(
  kafka: KafkaClient,
  topics: string | string[],
  opts: TopicRangeOptions,
): Promise<TopicRangeResult> {
  const ranges = await topicRanges(kafka, Array.isArray(topics) ? topics : [topics], opts);
  const read = new RangeRead(ranges, opts);
  if (read.empty || opts.signal?.aborted) return { ranges, stopped: Boolean(opts.signal?.aborted) };

  const onAbort = () => read.finish(true);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const groupId = `${opts.groupPrefix ?? 'sluice-ops'}-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: opts.readUncommitted });
  consumer.on(consumer.events.CRASH, (e) => {
    if (!(e.payload as { restart?: boolean }).restart) read.finish(true, e.payload.error);
  });
  // Batches that hold only control records or compacted-away offsets never reach eachBatch,
  // but they do move the partition forward.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (!read.finished) read.advance(e.payload.topic, e.payload.partition, BigInt(e.payload.lastOffset) + 1n);
  });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => read.onBatch(payload) });
    for (const r of read.seeks()) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.start.toString() });
    await read.done;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => {});
    await deleteGroup(kafka, groupId);
  }
  return { ranges, stopped: read.stopped };
}

async function deleteGroup(kafka: KafkaClient, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    /* an empty group without offsets expires on its own */
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
