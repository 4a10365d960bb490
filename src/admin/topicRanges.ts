import { SluiceError } from '../core/errors.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Admin } from '../kafka/kafkaTypes.ts';

/** Where a bounded read starts in every selected partition (clamped to what the log still holds). */
export type ReadStart = { earliest: true } | { offset: bigint } | { timestamp: number } | { last: number };

/** One partition of a bounded read: what the log holds and where the read starts. */
export interface PartitionRange {
  topic: string;
  partition: number;
  low: bigint;
  /** The end offset when the read began: the read stops before it. */
  high: bigint;
  start: bigint;
}

/**
 * The range of every selected partition of `topics`, from `start` (default: earliest) to the end
 * offsets they have now. A missing topic or partition is a usage error that names it.
 */
export async function topicRanges(
  kafka: KafkaClient,
  topics: string[],
  opts: { partitions?: number[]; start?: ReadStart },
): Promise<PartitionRange[]> {
  const ranges: PartitionRange[] = [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics) {
      if (!existing.has(topic))
        throw new SluiceError('CLI_USAGE', `topic ${topic} does not exist (\`sluice topics\` lists the topics)`);
      ranges.push(...(await rangesOf(admin, topic, opts)));
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
  return ranges;
}

async function rangesOf(
  admin: Admin,
  topic: string,
  { partitions, start }: { partitions?: number[]; start?: ReadStart },
): Promise<PartitionRange[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  if (partitions) {
    const missing = partitions.filter((p) => !offsets.some((o) => o.partition === p));
    if (missing.length)
      throw new SluiceError(
        'CLI_USAGE',
        `topic ${topic} has no partition ${missing.join(', ')} (it has ${offsets.length})`,
      );
  }
  const byTime =
    start && 'timestamp' in start ? await admin.fetchTopicOffsetsByTimestamp(topic, start.timestamp) : undefined;
  const ranges: PartitionRange[] = [];
  for (const o of offsets) {
    if (partitions && !partitions.includes(o.partition)) continue;
    const low = BigInt(o.low);
    const high = BigInt(o.high);
    let from = low;
    if (start && 'offset' in start) from = start.offset;
    else if (start && 'last' in start) from = high - BigInt(start.last);
    else if (byTime) from = BigInt(byTime.find((b) => b.partition === o.partition)?.offset ?? o.high);
    ranges.push({ topic, partition: o.partition, low, high, start: from < low ? low : from > high ? high : from });
  }
  return ranges;
}
