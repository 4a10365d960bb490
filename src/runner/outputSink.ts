import type { IHeaders, Message, Producer } from '../kafka/kafkaTypes.ts';
import { SluiceError } from '../core/errors.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import type { Ack, Output } from '../topology/types.ts';

/**
 * Batches outputs into idempotent producer sends. An output's input acks are released only
 * after the broker acknowledged it (acks=all): that is what makes an input committable.
 * Sends are sequential so records keep their order per partition.
 */
export interface OutputSink {
  add(output: Output): void;
  flush(): Promise<void>;
  /** Outputs accepted but not yet acknowledged by the broker. */
  readonly pending: number;
}

/** The Kafka message of an output: raw bytes as they are, else Avro in the wire format of its schema. */
export function encodeOutput(output: Output, serde: AvroSerde, schemaIds: Map<string, number>): Message {
  let value: Buffer | null;
  if (output.raw) value = output.value as Buffer | null;
  else {
    const subject = output.schemaSubjectTopic ?? output.topic;
    const id = schemaIds.get(subject);
    if (id === undefined) throw new SluiceError('SCHEMA_NOT_FOUND', `no registered schema for output ${subject}`);
    value = serde.encodeSync(id, output.value);
  }
  const headers: IHeaders | undefined = output.headers;
  return {
    key: output.key,
    value,
    headers,
    partition: output.partition,
    timestamp: output.timestamp === undefined ? undefined : String(output.timestamp),
  };
}

/** How long a send keeps being retried on transient broker errors before the runner gives up. */
export const PRODUCE_RETRY_MS = 120_000;

/**
 * Sends as soon as it can and batches by itself: outputs added while no send is in flight go at
 * the next turn of the event loop (everything one fetched batch produced, in one request, with no
 * linger to wait out: each hop of a pipeline adds only the broker's round trip); outputs added
 * while a send is in flight go together when it is acknowledged, in requests of at most
 * `maxBatch`. Under load the batches grow on their own; when it is quiet nothing waits.
 */
export function createOutputSink(opts: {
  producer: Producer;
  serde: AvroSerde;
  schemaIds: Map<string, number>;
  maxBatch?: number;
  onDurable?: (output: Output) => void;
  onFatal: (err: unknown) => void;
}): OutputSink {
  const maxBatch = opts.maxBatch ?? 1000;
  let queue: { topic: string; message: Message; output: Output }[] = [];
  let pending = 0;
  let scheduled = false;
  /** The send loop while it runs; it ends when the queue is empty. */
  let sending: Promise<void> | undefined;

  function releaseAll(acks: Ack[]) {
    for (const a of acks) a.release();
  }

  async function send(batch: typeof queue): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      const list = byTopic.get(q.topic);
      if (list) list.push(q.message);
      else byTopic.set(q.topic, [q.message]);
    }
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    try {
      // The client gives up after ~10 s of its own retries; a broker restart takes longer. The
      // send is retried as a whole, in place (later batches wait: order per partition holds);
      // a copy the broker did take before the connection dropped is an at-least-once duplicate.
      await retryKafka(() => opts.producer.sendBatch({ acks: -1, topicMessages }), `produce ${batch.length} records`, {
        maxElapsedMs: PRODUCE_RETRY_MS,
      });
    } catch (err) {
      // Not transient, or the broker stayed away: the inputs stay uncommitted and the runner stops.
      for (const q of batch) for (const a of q.output.acks) a.fail(err);
      pending -= batch.length;
      opts.onFatal(
        new SluiceError(
          'KAFKA_PRODUCE_FAILED',
          `could not produce ${batch.length} records: ${(err as Error).message}`,
          { cause: err },
        ),
      );
      return;
    }
    pending -= batch.length;
    for (const q of batch) {
      opts.onDurable?.(q.output);
      releaseAll(q.output.acks);
    }
  }

  /** Sends until the queue is empty, one request at a time (order per partition). */
  function drain(): Promise<void> {
    // Nothing to send: the loop below would end synchronously, before `sending` is assigned, and
    // leave a settled promise there that would keep every later add() from scheduling a send.
    if (!queue.length) return sending ?? Promise.resolve();
    sending ??= (async () => {
      try {
        while (queue.length) {
          const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
          queue = batch === queue ? [] : queue.slice(maxBatch);
          await send(batch);
        }
      } finally {
        sending = undefined;
      }
    })();
    return sending;
  }

  return {
    add(output) {
      queue.push({ topic: output.topic, message: encodeOutput(output, opts.serde, opts.schemaIds), output });
      pending++;
      if (sending || scheduled) return; // the running loop takes it when its send is acknowledged
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        void drain();
      });
    },
    async flush() {
      while (queue.length || sending) await drain();
    },
    get pending() {
      return pending;
    },
  };
}
