import { retryKafka } from '../kafka/retryKafka.ts';
import type { Admin } from '../kafka/kafkaTypes.ts';

/**
 * The metric topics now, with their partition counts: every topic whose name matches `pattern`.
 *
 * @example
 *   const topics = await discoverMetricTopics(admin, /^metrics\.[A-Za-z0-9_-]+$/); // Map { 'metrics.x' => 3 }
 */
export async function discoverMetricTopics(admin: Admin, pattern: RegExp): Promise<Map<string, number>> {
  const names = (await admin.listTopics()).filter((t) => pattern.test(t)).sort();
  if (!names.length) return new Map();
  const meta = await retryKafka(() => admin.fetchTopicMetadata({ topics: names }), "metric topics' metadata");
  return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
}

/** Per partition of a topic: the first offset at or after a time, and the end offset. */
export interface TopicOffsets {
  starts: Map<number, number>;
  ends: Map<number, number>;
}

/**
 * Where a fresh reader of `topic` starts (the first record at or after `since`) and where the
 * topic ends now, per partition.
 */
export async function topicOffsetsSince(admin: Admin, topic: string, since: number): Promise<TopicOffsets> {
  const [starts, ends] = await retryKafka(
    () => Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, since), admin.fetchTopicOffsets(topic)]),
    `offsets of ${topic}`,
  );
  return {
    starts: new Map(starts.map((s) => [s.partition, Number(s.offset)])),
    ends: new Map(ends.map((e) => [e.partition, Number(e.high)])),
  };
}

/** Low and high watermark per partition of a topic. */
export async function topicWatermarks(
  admin: Admin,
  topic: string,
): Promise<Map<number, { low: number; high: number }>> {
  const offsets = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`);
  return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
}
