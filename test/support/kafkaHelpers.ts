import type { KafkaClient } from '../../src/kafka/kafka.ts';
import { createKafkaClient } from '../../src/kafka/kafka.ts';
import type { Config } from '../../src/config/config.ts';

export interface ReadRecord { partition: number; offset: string; key: string | null; value: Buffer | null; headers: Record<string, string> }

/** Reads a topic from the beginning to the end offsets it has now (a throwaway group). */
export async function readAll(cfg: Config, topic: string, kafka: KafkaClient = createKafkaClient(cfg, 'it-read')): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const target = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const total = ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0);
  const out: ReadRecord[] = [];
  if (total === 0) return out;
  const consumer = kafka.consumer({ groupId: `it-read-${Date.now()}-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= target.get(batch.partition)!) continue;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(v);
          out.push({ partition: batch.partition, offset: m.offset, key: m.key?.toString() ?? null, value: m.value, headers });
        }
        if (out.length >= total) resolve();
      },
    }).catch(reject);
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
  } catch { return 0; } finally { await admin.disconnect(); }
}
