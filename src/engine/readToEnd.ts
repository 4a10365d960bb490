import { randomBytes } from 'node:crypto';
import { SluiceError } from '../core/errors.ts';
import { retryKafka, type KafkaClient } from '../kafka/kafka.ts';

/**
 * Reads a topic from the beginning up to the end offsets it has when called (a throwaway group
 * that never commits), handing every record to `onRecord` in partition order. Used to restore
 * window stores from their changelogs.
 */
export async function readToEnd(
  kafka: KafkaClient,
  topic: string,
  onRecord: (partition: number, key: string | null, value: Buffer | null) => void,
  partitions?: Set<number>,
): Promise<number> {
  const ends = await fetchEndOffsets(kafka, topic);
  const target = new Map(
    ends
      .filter((e) => !partitions || partitions.has(e.partition))
      .map((e) => [e.partition, { high: BigInt(e.high), low: BigInt(e.low) }]),
  );
  const pending = new Set([...target].filter(([, o]) => o.high > o.low).map(([p]) => p));
  if (!pending.size) return 0;
  let n = 0;
  const consumer = kafka.consumer({ groupId: `sluice-restore-${randomBytes(6).toString('hex')}` });
  try {
    await retryKafka(async () => {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
    }, `subscribing to ${topic} to restore it`);
    await new Promise<void>((resolve, reject) => {
      // A crash kafkajs does not restart would otherwise leave this promise pending forever.
      consumer.on(consumer.events.CRASH, (e) => {
        if (!(e.payload as { restart?: boolean }).restart)
          reject(
            new SluiceError('KAFKA_CONSUMER_CRASHED', `reading ${topic} to its end: ${e.payload.error?.message}`, {
              cause: e.payload.error,
            }),
          );
      });
      // A topic written in transactions (exactly-once changelogs) ends with commit or abort
      // markers, which no eachBatch sees; kafkajs reports batches of only markers through this
      // event, so the end is reached there.
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
        const t = target.get(e.payload.partition);
        if (t && e.payload.lastOffset !== null && BigInt(e.payload.lastOffset) + 1n >= t.high)
          pending.delete(e.payload.partition);
        if (!pending.size) resolve();
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const t = target.get(batch.partition);
            if (!t) return;
            for (const m of batch.messages) {
              if (BigInt(m.offset) >= t.high) break;
              onRecord(batch.partition, m.key?.toString() ?? null, m.value);
              n++;
            }
            const last = batch.messages.at(-1);
            if (last && BigInt(last.offset) + 1n >= t.high) pending.delete(batch.partition);
            if (!pending.size) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return n;
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
