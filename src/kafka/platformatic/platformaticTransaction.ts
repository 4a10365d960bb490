import type {
  Consumer as PlatformaticConsumer,
  Message as PlatformaticMessage,
  Producer as PlatformaticProducer,
} from '@platformatic/kafka';
import type { Offsets, ProducerBatch, ProducerRecord, RecordMetadata, Transaction } from 'kafkajs';
import { toProducerRecords, toRecordMetadata } from './toProducerRecords.ts';
import { translated } from './toKafkaJsError.ts';

type PlatformaticTx = Awaited<ReturnType<PlatformaticProducer['beginTransaction']>>;

/** Finds (and caches) the coordinator node of a consumer group; `forget` after it moved. */
export interface GroupCoordinators {
  nodeOf(groupId: string): Promise<number>;
  forget(groupId: string): void;
}

/**
 * A kafkajs-shaped transaction over @platformatic/kafka's: `send`/`sendBatch` add records,
 * `sendOffsets` adds a consumer group's offsets (kafkajs' meaning: the next offset to read), then
 * `commit` or `abort`.
 *
 * Two differences from @platformatic/kafka are bridged here:
 * - it only commits offsets of a message its own consumer read (`addOffset(message)`, committing
 *   `message.offset + 1` with the consumer's group generation); Sluice commits offsets it computed,
 *   with no generation (like kafkajs: no KIP-447; fencing comes from the transactional id), so a
 *   message is made up for each offset, with the group's coordinator looked up by `coordinators`;
 * - it always sends EndTxn, which the broker refuses for a transaction that added nothing; like
 *   kafkajs, an empty transaction (Sluice's `fence`) ends locally.
 *
 * @example
 *   const tx = await producer.transaction();
 *   await tx.sendBatch({ topicMessages });
 *   const partitions = [{ partition: 0, offset: '43' }];
 *   await tx.sendOffsets({ consumerGroupId: 'sluice-x', topics: [{ topic, partitions }] });
 *   await tx.commit();
 */
export function wrapTransaction(tx: PlatformaticTx, coordinators: GroupCoordinators): Transaction {
  let used = false;
  let active = true;
  const send = async (topicMessages: { topic: string; messages: ProducerRecord['messages'] }[]) => {
    used = true;
    const messages = topicMessages.flatMap((t) => toProducerRecords(t.topic, t.messages));
    if (!messages.length) return [];
    return toRecordMetadata(await tx.send({ messages }));
  };
  const end = (commit: boolean) =>
    translated(async () => {
      active = false;
      if (!used) await tx.cancel();
      else if (commit) await tx.commit();
      else await tx.abort();
    });
  const surface = {
    send: (record: ProducerRecord): Promise<RecordMetadata[]> =>
      translated(() => send([{ topic: record.topic, messages: record.messages }])),
    sendBatch: (batch: ProducerBatch): Promise<RecordMetadata[]> => translated(() => send(batch.topicMessages ?? [])),
    sendOffsets: (offsets: Offsets & { consumerGroupId: string }) =>
      translated(async () => {
        used = true;
        await sendOffsets(tx, coordinators, offsets);
      }),
    commit: () => end(true),
    abort: () => end(false),
    isActive: () => active,
  };
  return surface as unknown as Transaction;
}

async function sendOffsets(
  tx: PlatformaticTx,
  coordinators: GroupCoordinators,
  { consumerGroupId: groupId, topics }: Offsets & { consumerGroupId: string },
): Promise<void> {
  // addConsumer only reads the consumer's groupId (AddOffsetsToTxn).
  await tx.addConsumer({ groupId } as unknown as PlatformaticConsumer);
  const coordinatorId = await coordinators.nodeOf(groupId);
  try {
    for (const { topic, partitions } of topics) {
      for (const { partition, offset } of partitions) {
        const message = {
          topic,
          partition,
          offset: BigInt(offset) - 1n, // committed as offset + 1
          metadata: { consumer: { groupId, generationId: -1, memberId: '', coordinatorId } },
        } as unknown as PlatformaticMessage;
        await tx.addOffset(message);
      }
    }
  } catch (err) {
    coordinators.forget(groupId);
    throw err;
  }
}
