import { randomBytes } from 'node:crypto';
import { SluiceError } from '../core/errors.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Consumer, EachBatchPayload } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { feedConsumer } from './feedConsumer.ts';
import { parseTpKey, tpKey } from './feedCursor.ts';
import type { LoggedUpdate } from './feedUpdate.ts';
import { prepareBatch, recordToUpdate } from './metricRecords.ts';

/** Offsets [from, to) of one partition. */
export interface ReplayRange {
  from: number;
  to: number;
}

/** Arguments of `replayFromKafka`. */
export interface ReplayArgs {
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
}

/**
 * Reads the given offset ranges of metric partitions from Kafka for one resuming client: a
 * short-lived consumer in a throwaway group (never committing) sought to each range's start,
 * calling `onUpdate` in offset order per partition until every range is read. Used when the feed's
 * memory no longer holds a cursor's position, e.g. after the feed itself restarted. Resolves with
 * the number of updates delivered.
 *
 * Not `readRange`: this read stops as soon as the client goes away (`signal`) or `timeoutMs`
 * passes, paces itself to the client after each batch, covers the partitions of several topics
 * in one consumer, and does not wait for the consumer to leave its group before answering.
 *
 * @example
 *   await replayFromKafka({ kafka, serde, ranges: new Map([['metrics.x/0', { from: 10, to: 42 }]]), onUpdate: send });
 */
export async function replayFromKafka(args: ReplayArgs): Promise<number> {
  const replay = new RangeReplay(args);
  return replay.pending ? replay.run() : 0;
}

/** One replay: what is left to read, and the consumer reading it. */
class RangeReplay {
  readonly #args: ReplayArgs;
  /** Partitions whose range is not read yet. */
  readonly #remaining: Set<string>;
  /** Next offset per partition. */
  readonly #positions: Map<string, number>;
  readonly #consumer: Consumer;
  readonly #done: Promise<void>;
  #settle: (err?: Error) => void = () => {};
  #finished = false;
  #count = 0;

  constructor(args: ReplayArgs) {
    this.#args = args;
    this.#remaining = new Set([...args.ranges].filter(([, r]) => r.from < r.to).map(([tp]) => tp));
    this.#positions = new Map([...args.ranges].map(([tp, r]) => [tp, r.from]));
    const prefix = args.groupIdPrefix ?? 'sluice-feed-replay';
    this.#consumer = feedConsumer(args.kafka, `${prefix}-${randomBytes(6).toString('hex')}`);
    this.#done = new Promise<void>((resolve, reject) => {
      this.#settle = (err) => {
        this.#finished = true;
        if (err) reject(err);
        else resolve();
      };
    });
    this.#done.catch(() => {}); // awaited in run(); this only keeps an early failure from counting as unhandled
  }

  /** How many partitions have something to read. */
  get pending(): number {
    return this.#remaining.size;
  }

  async run(): Promise<number> {
    const { signal, timeoutMs = 60_000 } = this.#args;
    const timer = setTimeout(() => {
      const message = `replay of ${this.#remaining.size} partition(s) did not finish within ${timeoutMs}ms`;
      this.#settle(new SluiceError('KAFKA_CONNECT_FAILED', message));
    }, timeoutMs);
    const onAbort = () => this.#settle(new SluiceError('INTERNAL', 'replay aborted: the client went away'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.#start();
      await this.#done;
      return this.#count;
    } finally {
      this.#finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Not awaited: the client is served once its ranges are read; leaving the group can trail.
      void this.#consumer.disconnect().catch(() => {});
    }
  }

  async #start(): Promise<void> {
    const consumer = this.#consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!this.#finished) this.#seekAll();
    });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (!this.#finished) this.#advance(tpKey(payload.topic, payload.partition), Number(payload.lastOffset) + 1);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.#finished) return;
      const message = `replay consumer crashed: ${payload.error.message}`;
      this.#settle(new SluiceError('KAFKA_CONSUMER_CRASHED', message, { cause: payload.error }));
    });
    await consumer.connect();
    // Partitions outside the ranges start at the end and are ignored.
    const topics = [...new Set([...this.#remaining].map((tp) => parseTpKey(tp).topic))];
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({ autoCommit: false, eachBatch: ({ batch }) => this.#readBatch(batch) });
    this.#seekAll();
  }

  async #readBatch(batch: EachBatchPayload['batch']): Promise<void> {
    const tp = tpKey(batch.topic, batch.partition);
    const range = this.#args.ranges.get(tp);
    if (!range || this.#finished || !this.#remaining.has(tp)) return;
    await prepareBatch(this.#args.serde, batch.messages, () => !this.#finished);
    for (const m of batch.messages) {
      if (this.#finished) return;
      const offset = Number(m.offset);
      if (offset < (this.#positions.get(tp) ?? 0) || offset >= range.to) continue;
      const u = recordToUpdate(this.#args.serde, batch.topic, batch.partition, m);
      this.#positions.set(tp, offset + 1);
      if (u) {
        this.#count++;
        this.#args.onUpdate(u);
      }
    }
    await this.#args.afterBatch?.();
  }

  #advance(tp: string, next: number): void {
    const r = this.#args.ranges.get(tp);
    if (!r) return;
    if (next > (this.#positions.get(tp) ?? 0)) this.#positions.set(tp, next);
    if ((this.#positions.get(tp) ?? 0) >= r.to) this.#remaining.delete(tp);
    if (!this.#remaining.size && !this.#finished) this.#settle();
  }

  #seekAll(): void {
    for (const tp of this.#remaining) {
      const { topic, partition } = parseTpKey(tp);
      this.#consumer.seek({ topic, partition, offset: String(this.#positions.get(tp)) });
    }
  }
}
