import type { KafkaClient } from '../../src/kafka/createKafkaClient.ts';
import { createKafkaClient } from '../../src/kafka/createKafkaClient.ts';
import type { Config } from '../../src/config/config.ts';

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads a topic from the beginning to the end offsets it has now (a throwaway group, read
 * committed). A partition is done when the consumer has passed its end offset: topics written in
 * transactions hold commit markers (and aborted records) that count in the offsets but are never
 * delivered, so counting records would wait forever.
 */
export async function readAll(
  cfg: Config,
  topic: string,
  kafka: KafkaClient = createKafkaClient(cfg, 'it-read'),
): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const target = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const pending = new Set(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => e.partition));
  const out: ReadRecord[] = [];
  if (!pending.size) return out;
  const consumer = kafka.consumer({ groupId: `it-read-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.lastOffset !== null && BigInt(e.payload.lastOffset) + 1n >= target.get(e.payload.partition)!)
        pending.delete(e.payload.partition);
      if (!pending.size) resolve();
    });
    consumer
      .run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (BigInt(m.offset) >= target.get(batch.partition)!) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v);
            out.push({
              partition: batch.partition,
              offset: m.offset,
              key: m.key?.toString() ?? null,
              value: m.value,
              headers,
            });
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

export async function topicCount(kafka: KafkaClient, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect();
  }
}
