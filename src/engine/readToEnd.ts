import { randomBytes } from 'node:crypto';
import type { KafkaClient } from '../kafka/kafka.ts';

/**
 * Reads a topic from the beginning up to the end offsets it has when called (a throwaway group
 * that never commits), handing every record to `onRecord` in partition order. Used to restore
 * window stores from their changelogs.
 */
export async function readToEnd(kafka: KafkaClient, topic: string, onRecord: (partition: number, key: string | null, value: Buffer | null) => void, partitions?: Set<number>): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const target = new Map(ends.filter((e) => !partitions || partitions.has(e.partition)).map((e) => [e.partition, { high: BigInt(e.high), low: BigInt(e.low) }]));
  const pending = new Set([...target].filter(([, o]) => o.high > o.low).map(([p]) => p));
  if (!pending.size) return 0;
  let n = 0;
  const consumer = kafka.consumer({ groupId: `sluice-restore-${randomBytes(6).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.run({
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
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return n;
}
