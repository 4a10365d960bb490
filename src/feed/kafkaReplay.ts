import { randomBytes } from 'node:crypto';
import { SluiceError } from '../core/errors.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { parseTpKey, tpKey } from './feedCursor.ts';
import type { LoggedUpdate } from './feedUpdate.ts';
import { feedConsumer, prepareBatch, recordToUpdate } from './metricRecords.ts';

/**
 * Reads the given offset ranges of metric partitions from Kafka for one resuming client: a
 * short-lived consumer in a throwaway group (never committing) sought to each range's start,
 * calling `onUpdate` in offset order per partition until every range is read. Used when the feed's
 * memory no longer holds a cursor's position, e.g. after the feed itself restarted.
 *
 * @example
 *   await replayFromKafka({ kafka, serde, ranges: new Map([['metrics.x/0', { from: 10, to: 42 }]]), onUpdate: send });
 */
export interface ReplayRange {
  from: number;
  to: number;
}

export async function replayFromKafka(args: {
  kafka: KafkaClient;
  serde: AvroSerde;
  /** `<topic>/<partition>` → [from, to) */
  ranges: Map<string, ReplayRange>;
  onUpdate: (u: LoggedUpdate) => void;
  /** Awaited after each batch: lets the caller wait for its client to read. */
  afterBatch?: () => Promise<void>;
  signal?: AbortSignal;
  timeoutMs?: number;
  groupIdPrefix?: string;
}): Promise<number> {
  const {
    kafka,
    serde,
    ranges,
    onUpdate,
    afterBatch,
    signal,
    timeoutMs = 60_000,
    groupIdPrefix = 'sluice-feed-replay',
  } = args;
  const remaining = new Set([...ranges].filter(([, r]) => r.from < r.to).map(([tp]) => tp));
  if (!remaining.size) return 0;
  const positions = new Map([...ranges].map(([tp, r]) => [tp, r.from]));
  const topics = [...new Set([...remaining].map((tp) => parseTpKey(tp).topic))];
  const consumer = feedConsumer(kafka, `${groupIdPrefix}-${randomBytes(6).toString('hex')}`);
  let count = 0;
  let finished = false;
  let settle: (err?: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => {
      finished = true;
      if (err) reject(err);
      else resolve();
    };
  });
  done.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
  const advance = (tp: string, next: number) => {
    const r = ranges.get(tp);
    if (!r) return;
    if (next > (positions.get(tp) ?? 0)) positions.set(tp, next);
    if ((positions.get(tp) ?? 0) >= r.to) remaining.delete(tp);
    if (!remaining.size && !finished) settle();
  };
  const seekAll = () => {
    for (const tp of remaining) {
      const { topic, partition } = parseTpKey(tp);
      consumer.seek({ topic, partition, offset: String(positions.get(tp)) });
    }
  };
  const timer = setTimeout(
    () =>
      settle(
        new SluiceError(
          'KAFKA_CONNECT_FAILED',
          `replay of ${remaining.size} partition(s) did not finish within ${timeoutMs}ms`,
        ),
      ),
    timeoutMs,
  );
  const onAbort = () => settle(new SluiceError('INTERNAL', 'replay aborted: the client went away'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!finished) seekAll();
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (!finished) advance(tpKey(payload.topic, payload.partition), Number(payload.lastOffset) + 1);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!finished)
        settle(
          new SluiceError('KAFKA_CONSUMER_CRASHED', `replay consumer crashed: ${payload.error.message}`, {
            cause: payload.error,
          }),
        );
    });
    await consumer.connect();
    // Partitions outside the ranges start at the end and are ignored.
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const tp = tpKey(batch.topic, batch.partition);
        const range = ranges.get(tp);
        if (!range || finished || !remaining.has(tp)) return;
        await prepareBatch(serde, batch.messages, () => !finished);
        for (const m of batch.messages) {
          if (finished) return;
          const offset = Number(m.offset);
          if (offset < (positions.get(tp) ?? 0) || offset >= range.to) continue;
          const u = recordToUpdate(serde, batch.topic, batch.partition, m);
          positions.set(tp, offset + 1);
          if (u) {
            count++;
            onUpdate(u);
          }
        }
        await afterBatch?.();
      },
    });
    seekAll();
    await done;
    return count;
  } finally {
    finished = true;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    // Not awaited: the client is served once its ranges are read; leaving the group can trail.
    void consumer.disconnect().catch(() => {});
  }
}
