import { randomBytes } from 'node:crypto';
import { SluiceError } from '../core/errors.ts';
import type { KafkaClient } from './createKafkaClient.ts';
import type { Consumer, EachBatchPayload } from './kafkaTypes.ts';
import { retryKafka } from './retryKafka.ts';

/** One record read by `readRange`. */
export interface RangeRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

/** Which part of a topic `readRange` reads, and how. */
export interface ReadRangeOptions {
  /** Only these partitions (default: all). */
  partitions?: Set<number>;
  /** First offset per partition (default: the earliest kept). */
  from?: Map<number, bigint>;
  /** End offset per partition, exclusive (default: the end offsets when the call starts). */
  to?: Map<number, bigint>;
  /** Also records of open or aborted transactions (default: committed records only). */
  readUncommitted?: boolean;
  /** What the read is for, in error messages. */
  purpose?: string;
  /** Aborting stops the read: the call rejects with the signal's reason, its consumer disconnected. */
  signal?: AbortSignal;
}

/** Per partition: the earliest kept offset, where the read starts, and where it ends (exclusive). */
type Range = Map<number, { low: bigint; start: bigint; high: bigint }>;

/**
 * Reads a bounded range of a topic — from the given (or earliest) offsets up to the end offsets
 * it has when called — with a throwaway group that never commits, handing every record to
 * `onRecord` in partition order. The one way Sluice reads a topic "to its end": restoring state
 * stores, loading reference tables, replaying DLQs, reading extract positions.
 *
 * @example
 *   const n = await readRange(kafka, 'oltp.products', (r) => table.set(r.key!.toString(), r.value));
 */
export async function readRange(
  kafka: KafkaClient,
  topic: string,
  onRecord: (record: RangeRecord) => void | Promise<void>,
  opts: ReadRangeOptions = {},
): Promise<number> {
  const purpose = opts.purpose ?? `reading ${topic} to its end`;
  opts.signal?.throwIfAborted();
  const target = await rangeOf(kafka, topic, opts);
  const pending = new Set([...target].filter(([, o]) => o.high > o.start).map(([p]) => p));
  if (!pending.size) return 0;
  opts.signal?.throwIfAborted();
  const consumer = kafka.consumer({
    groupId: `sluice-read-${randomBytes(6).toString('hex')}`,
    readUncommitted: opts.readUncommitted,
  });
  try {
    await retryKafka(
      async () => {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
      },
      `subscribing to ${topic} (${purpose})`,
      { signal: opts.signal },
    );
    const read = consumeRange(consumer, topic, { target, pending }, onRecord, { purpose, signal: opts.signal });
    try {
      return await read.records;
    } finally {
      // A consumer disconnected while it is still joining its group crashes and kafkajs
      // restarts it: an abort waits for the join (or its failure) to be over first.
      await read.started;
    }
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

/**
 * Runs `consumer` over `target` until no partition is `pending`. `records` resolves to the number
 * of records handed on; `started` once `run` has joined the group or failed to (never rejects).
 */
function consumeRange(
  consumer: Consumer,
  topic: string,
  { target, pending }: { target: Range; pending: Set<number> },
  onRecord: (record: RangeRecord) => void | Promise<void>,
  { purpose, signal }: { purpose: string; signal?: AbortSignal },
): { records: Promise<number>; started: Promise<void> } {
  let n = 0;
  let started: Promise<void> = Promise.resolve();
  const records = new Promise<number>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (partition: number) => {
      pending.delete(partition);
      if (pending.size) return;
      signal?.removeEventListener('abort', onAbort);
      resolve(n);
    };
    // A crash kafkajs does not restart would otherwise leave this promise pending forever.
    consumer.on(consumer.events.CRASH, (e) => {
      if (!(e.payload as { restart?: boolean }).restart) {
        const message = `${purpose}: ${e.payload.error?.message}`;
        reject(new SluiceError('KAFKA_CONSUMER_CRASHED', message, { cause: e.payload.error }));
      }
    });
    // A topic written in transactions ends with commit or abort markers, which no eachBatch
    // sees; kafkajs reports batches of only markers through this event, so the end is reached here.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      const t = target.get(e.payload.partition);
      if (t && e.payload.lastOffset !== null && BigInt(e.payload.lastOffset) + 1n >= t.high) done(e.payload.partition);
    });
    started = consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const t = target.get(batch.partition);
          if (!t || !pending.has(batch.partition)) return;
          const handed = await handOn(batch, t, onRecord);
          n += handed;
          const last = batch.messages.at(-1);
          if (last && BigInt(last.offset) + 1n >= t.high) done(batch.partition);
        },
      })
      .catch(reject);
    for (const [partition, t] of target)
      if (t.start > t.low) consumer.seek({ topic, partition, offset: String(t.start) });
  });
  return { records, started };
}

/** Hands the records of `batch` in [t.start, t.high) to `onRecord`; returns how many. */
async function handOn(
  batch: EachBatchPayload['batch'],
  t: { start: bigint; high: bigint },
  onRecord: (record: RangeRecord) => void | Promise<void>,
): Promise<number> {
  let n = 0;
  for (const m of batch.messages) {
    const offset = BigInt(m.offset);
    if (offset >= t.high) break;
    if (offset < t.start) continue;
    const handled = onRecord({
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      headers: headersOf(m.headers),
      timestamp: Number(m.timestamp),
    });
    // Only an asynchronous handler is awaited: a tick per record adds up over a large topic.
    if (handled) await handled;
    n++;
  }
  return n;
}

/**
 * Reads a topic from the beginning to its end (see `readRange`), handing key and value per
 * record. Used to restore state stores from their changelogs.
 */
export function readToEnd(
  kafka: KafkaClient,
  topic: string,
  onRecord: (partition: number, key: string | null, value: Buffer | null) => void,
  partitions?: Set<number>,
): Promise<number> {
  return readRange(kafka, topic, (r) => onRecord(r.partition, r.key?.toString() ?? null, r.value), {
    partitions,
    purpose: `restoring from ${topic}`,
  });
}

/**
 * A topic's low and high offsets per partition, retried on transient errors: a topic created a
 * moment ago, or one whose leader is moving, answers NOT_LEADER_FOR_PARTITION for a while, and
 * kafkajs' admin gives up on that at once.
 */
export async function fetchEndOffsets(
  kafka: KafkaClient,
  topic: string,
): Promise<{ partition: number; high: string; low: string }[]> {
  return retryKafka(async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }, `end offsets of ${topic}`);
}

async function rangeOf(kafka: KafkaClient, topic: string, opts: ReadRangeOptions): Promise<Range> {
  const ends = await fetchEndOffsets(kafka, topic);
  const target: Range = new Map();
  for (const e of ends) {
    if (opts.partitions && !opts.partitions.has(e.partition)) continue;
    const low = BigInt(e.low);
    const from = opts.from?.get(e.partition);
    const to = opts.to?.get(e.partition);
    const high = to !== undefined && to < BigInt(e.high) ? to : BigInt(e.high);
    target.set(e.partition, { low, start: from !== undefined && from > low ? from : low, high });
  }
  return target;
}

function headersOf(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v !== undefined) out[k] = (Array.isArray(v) ? v[v.length - 1] : v).toString();
  }
  return out;
}
