import {
  type BaseOptions,
  type CompressionAlgorithmValue,
  Producer as PlatformaticProducer,
} from '@platformatic/kafka';
import type { Producer, ProducerBatch, ProducerRecord, RecordMetadata } from 'kafkajs';
import { createJavaCompatiblePartitioner } from './javaCompatiblePartitioner.ts';
import { type GroupCoordinators, wrapTransaction } from './platformaticTransaction.ts';
import { toProducerRecords, toRecordMetadata } from './toProducerRecords.ts';
import { translated } from './toKafkaJsError.ts';

/** kafkajs' `CompressionTypes` (None, GZIP, Snappy, LZ4, ZSTD) by number, as @platformatic/kafka names them. */
const COMPRESSION: CompressionAlgorithmValue[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** kafkajs' default transaction timeout: how long a transaction left open (a crashed writer) blocks readers. */
const TRANSACTION_TIMEOUT_MS = 60_000;

/**
 * A kafkajs-shaped producer over @platformatic/kafka's, with what `KafkaClient.producer` promises:
 * idempotent (acks=all, one request in flight per broker, retried without limit — giving up would
 * void the no-duplicates promise), partitioned like kafkajs and Java (`createJavaCompatiblePartitioner`),
 * never creating topics. With a `transactionalId`, `transaction()` gives kafkajs-shaped
 * transactions (see `wrapTransaction`); the first one initialises the id, fencing any earlier
 * producer with the same id.
 *
 * `connect()` initialises the idempotent producer id, as kafkajs does; the `acks` of a send are
 * always all (kafkajs refuses anything else on an idempotent producer too).
 *
 * @example
 *   const producer = createPlatformaticProducer(options, coordinators);
 *   await producer.connect();
 *   await producer.sendBatch({ acks: -1, topicMessages: [{ topic: 'orders', messages }] });
 */
export function createPlatformaticProducer(
  options: BaseOptions,
  coordinators: GroupCoordinators,
  opts: { transactionalId?: string } = {},
): Producer {
  const producer = new PlatformaticProducer({
    ...options,
    ...(opts.transactionalId ? { transactionalId: opts.transactionalId, timeout: TRANSACTION_TIMEOUT_MS } : {}),
    // InitProducerId as a new producer (-1/-1). @platformatic/kafka sends 0/0 by default, which
    // the broker reads as "producer 0, epoch 0, bump my epoch": for a transactional id that a
    // previous (crashed) owner initialised, that answers PRODUCER_FENCED instead of fencing it.
    producerId: -1n,
    producerEpoch: -1,
    idempotent: true,
    retries: Number.MAX_SAFE_INTEGER,
    partitioner: createJavaCompatiblePartitioner(),
  });
  const send = async (
    topicMessages: { topic: string; messages: ProducerRecord['messages'] }[],
    compression?: number,
  ): Promise<RecordMetadata[]> => {
    const messages = topicMessages.flatMap((t) => toProducerRecords(t.topic, t.messages));
    if (!messages.length) return [];
    const result = await producer.send({
      messages,
      ...(compression ? { compression: COMPRESSION[compression] } : {}),
    });
    return toRecordMetadata(result);
  };
  const surface = {
    connect: () =>
      translated(async () => {
        if (opts.transactionalId) await producer.listApis();
        else await producer.initIdempotentProducer({});
      }),
    disconnect: () => translated(() => producer.close(true)),
    isIdempotent: () => true,
    send: (record: ProducerRecord) =>
      translated(() => send([{ topic: record.topic, messages: record.messages }], record.compression)),
    sendBatch: (batch: ProducerBatch) => translated(() => send(batch.topicMessages ?? [], batch.compression)),
    transaction: () =>
      translated(async () => {
        const tx = await producer.beginTransaction();
        return wrapTransaction(tx, coordinators);
      }),
  };
  return surface as unknown as Producer;
}
