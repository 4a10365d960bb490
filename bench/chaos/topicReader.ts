import { randomBytes } from 'node:crypto';
import type { KafkaClient } from '../../src/kafka/createKafkaClient.ts';

/**
 * Reads whole topics the way a downstream user does: a throwaway consumer group, isolation
 * read_committed (the kafkajs default), from the low watermark to the high watermark seen at the
 * start. Under exactly_once the visible records have offset gaps (commit markers, aborted
 * records); the reader knows it reached the end of a partition from the batch instrumentation
 * (`END_BATCH_PROCESS` carries the last offset of batches that held only markers or aborted
 * records), not from the last record it was handed.
 */

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: number;
}

export interface TopicRead {
  records: Map<string, TopicRecord[]>;
  /** Partitions whose end was not reached before the reader gave up (an open transaction, a stuck broker). */
  incomplete: { topic: string; partition: number; reached: number; high: number }[];
  elapsedMs: number;
}

/**
 * Every visible record of `topics` (missing topics read as empty). Gives up on a partition after
 * `stallMs` without progress (an abandoned transaction holds read_committed readers back until
 * the broker aborts it: transaction.timeout.ms, 60 s with kafkajs).
 */
export async function readTopics(
  kafka: KafkaClient,
  topics: string[],
  opts: { stallMs?: number } = {},
): Promise<TopicRead> {
  const started = Date.now();
  const stallMs = opts.stallMs ?? 90_000;
  const records = new Map<string, TopicRecord[]>(topics.map((t) => [t, []]));
  const admin = kafka.admin();
  await admin.connect();
  const targets = new Map<string, { high: number; reached: number }>();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics.filter((t) => existing.has(t))) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = Number(p.high);
        if (high > Number(p.low)) targets.set(`${topic}/${p.partition}`, { high, reached: Number(p.low) });
      }
    }
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...targets.keys()]);
  if (!pending.size) return { records, incomplete: [], elapsedMs: Date.now() - started };

  const consumer = kafka.consumer({
    groupId: `sluice-chaos-read-${randomBytes(6).toString('hex')}`,
    maxBytesPerPartition: 4 << 20,
  });
  let lastProgress = Date.now();
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const advance = (topic: string, partition: number, nextOffset: number) => {
    const key = `${topic}/${partition}`;
    const t = targets.get(key);
    if (!t || nextOffset <= t.reached) return;
    t.reached = nextOffset;
    lastProgress = Date.now();
    if (t.reached >= t.high) {
      pending.delete(key);
      if (!pending.size) finish();
    }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const { topic, partition, lastOffset } = e.payload as {
      topic: string;
      partition: number;
      lastOffset: string | null;
    };
    if (lastOffset !== null && lastOffset !== undefined) advance(topic, partition, Number(lastOffset) + 1);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({
      topics: [...new Set([...targets.keys()].map((k) => k.slice(0, k.lastIndexOf('/'))))],
      fromBeginning: true,
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const t = targets.get(`${batch.topic}/${batch.partition}`);
        if (!t) return;
        const out = records.get(batch.topic)!;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (offset >= t.high) break;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {}))
            if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
          out.push({
            topic: batch.topic,
            partition: batch.partition,
            offset,
            key: m.key?.toString('utf8') ?? null,
            value: m.value,
            headers,
            timestamp: Number(m.timestamp),
          });
          advance(batch.topic, batch.partition, offset + 1);
        }
      },
    });
    while (pending.size && Date.now() - lastProgress < stallMs) {
      await Promise.race([done, new Promise((r) => setTimeout(r, 500))]);
    }
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  const incomplete = [...pending].map((k) => {
    const t = targets.get(k)!;
    return {
      topic: k.slice(0, k.lastIndexOf('/')),
      partition: Number(k.slice(k.lastIndexOf('/') + 1)),
      reached: t.reached,
      high: t.high,
    };
  });
  for (const list of records.values()) list.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return { records, incomplete, elapsedMs: Date.now() - started };
}

export interface GroupLag {
  /** Sum of high watermark − committed offset over the group's partitions. */
  lag: number;
  /** `topic/partition` → lag, partitions with lag only. */
  partitions: Record<string, number>;
  /** `topic/partition` → committed offset (0 when none). */
  committed: Record<string, number>;
}

/** High watermark minus committed offset per partition, for each group and the topics it consumes. */
export async function groupLags(
  kafka: KafkaClient,
  groups: Record<string, string[]>,
): Promise<Record<string, GroupLag>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [...new Set(Object.values(groups).flat())].filter((t) => existing.has(t));
    const highs = new Map(
      await Promise.all(
        wanted.map(
          async (t) =>
            [t, new Map((await admin.fetchTopicOffsets(t)).map((p) => [p.partition, Number(p.high)]))] as const,
        ),
      ),
    );
    const committed = await Promise.all(
      Object.entries(groups).map(async ([groupId, topics]) => {
        const present = topics.filter((t) => existing.has(t));
        return [groupId, present.length ? await admin.fetchOffsets({ groupId, topics: present }) : []] as const;
      }),
    );
    const out: Record<string, GroupLag> = {};
    for (const [groupId, offsets] of committed) {
      const partitions: Record<string, number> = {};
      const at: Record<string, number> = {};
      let lag = 0;
      for (const t of offsets) {
        const h = highs.get(t.topic)!;
        for (const p of t.partitions) {
          const high = h.get(p.partition) ?? 0;
          const committed = Math.max(0, Number(p.offset));
          at[`${t.topic}/${p.partition}`] = committed;
          const l = Math.max(0, high - committed);
          if (l > 0) partitions[`${t.topic}/${p.partition}`] = l;
          lag += l;
        }
      }
      out[groupId] = { lag, partitions, committed: at };
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}
