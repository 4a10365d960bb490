import type { IHeaders, Message, Producer } from '../kafka/kafkaTypes.ts';
import { SluiceError } from '../core/errors.ts';
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

export function createOutputSink(opts: {
  producer: Producer;
  serde: AvroSerde;
  schemaIds: Map<string, number>;
  maxBatch?: number;
  lingerMs?: number;
  onDurable?: (output: Output) => void;
  onFatal: (err: unknown) => void;
}): OutputSink {
  const maxBatch = opts.maxBatch ?? 1000;
  const lingerMs = opts.lingerMs ?? 5;
  let queue: { topic: string; message: Message; output: Output }[] = [];
  let pending = 0;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> = Promise.resolve();

  function releaseAll(acks: Ack[]) {
    for (const a of acks) a.release();
  }

  function sendNow(): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (queue.length === 0) return sending;
    const batch = queue;
    queue = [];
    const byTopic = new Map<string, Message[]>();
    for (const q of batch) {
      const list = byTopic.get(q.topic) ?? [];
      list.push(q.message);
      byTopic.set(q.topic, list);
    }
    sending = sending.then(async () => {
      try {
        await opts.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      } catch (err) {
        // The idempotent producer already retried; giving up here means the inputs stay uncommitted.
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
    });
    return sending;
  }

  return {
    add(output) {
      queue.push({ topic: output.topic, message: encodeOutput(output, opts.serde, opts.schemaIds), output });
      pending++;
      if (queue.length >= maxBatch) void sendNow();
      else
        timer ??= setTimeout(() => {
          timer = undefined;
          void sendNow();
        }, lingerMs);
    },
    async flush() {
      await sendNow();
      await sending;
    },
    get pending() {
      return pending;
    },
  };
}
