import type { Config } from '../config/config.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { isTransientKafkaError, kafkaErrorType } from '../kafka/isTransientKafkaError.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { Admin } from '../kafka/kafkaTypes.ts';
import { headersAsText } from './headersAsText.ts';
import { readTopicRange } from './readTopicRange.ts';
import { textTable } from '../core/textTable.ts';

/**
 * `sluice topics`: every topic with its partitions, end offsets, the lag of each consumer group
 * that has committed offsets on it, and for dead-letter topics the count of records by reason.
 */

/** A consumer group's lag on one topic. */
export interface GroupLag {
  groupId: string;
  /** Sum over the partitions the group has committed. */
  lag: number;
  byPartition: Record<number, number>;
}

/** One line of `sluice topics`. */
export interface TopicSummary {
  topic: string;
  partitions: number;
  /** Next offset to be written, per partition and summed. */
  endOffsets: { total: number; byPartition: Record<number, number> };
  /** Records still in the log (end minus start offsets), summed. */
  records: number;
  groups: GroupLag[];
  /**
   * For `*.dlq` and `*.dlq.parked` topics: records by `sluice.error.reason` (headers read in full,
   * up to the limit).
   */
  dlq?: { counted: number; byReason: Record<string, number>; truncated: boolean };
}

/** A dead-letter topic or its parking lot (`*.dlq`, `*.dlq.parked`). */
export function isDlqTopic(topic: string): boolean {
  return topic.endsWith('.dlq') || topic.endsWith('.dlq.parked');
}

/**
 * Every topic (internal `__*` ones left out, or only `topics`) with its partitions, end offsets,
 * the lag of each consumer group that committed on it, and for DLQ topics the count by reason.
 *
 * @example
 *   for (const t of await listSluiceTopics(cfg)) console.log(t.topic, t.endOffsets.total, t.dlq?.byReason);
 */
export async function listSluiceTopics(
  cfg: Config,
  opts: { dlqLimit?: number; topics?: string[]; signal?: AbortSignal } = {},
): Promise<TopicSummary[]> {
  const dlqLimit = opts.dlqLimit ?? 100_000;
  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-topics`, { retries: 3 });
  const admin = kafka.admin();
  await retryKafka(() => admin.connect(), 'connecting to list topics');
  const summaries = new Map<string, TopicSummary>();
  try {
    const names = (await retryKafka(() => admin.listTopics(), 'listing topics'))
      .filter((t) => !t.startsWith('__') && (!opts.topics || opts.topics.includes(t)))
      .sort();
    for (const topic of names) {
      const summary = await summarize(admin, topic);
      if (summary) summaries.set(topic, summary);
    }
    await addGroupLags(admin, summaries);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  await countDlqReasons(kafka, summaries, dlqLimit, opts.signal);
  return [...summaries.values()];
}

/** A topic's partitions and end offsets; undefined when it was deleted since it was listed. */
async function summarize(admin: Admin, topic: string): Promise<TopicSummary | undefined> {
  // A topic deleted between listing and fetching is simply left out; one whose leader is not
  // ready yet (just created, or moving) is retried a while rather than silently missing.
  const stillThere = (err: unknown) =>
    isTransientKafkaError(err) && kafkaErrorType(err) !== 'UNKNOWN_TOPIC_OR_PARTITION';
  const offsets = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`, {
    retriable: stillThere,
    maxElapsedMs: 10_000,
  }).catch(() => undefined);
  if (!offsets) return undefined;
  const byPartition: Record<number, number> = {};
  let total = 0;
  let records = 0;
  for (const o of offsets.sort((a, b) => a.partition - b.partition)) {
    byPartition[o.partition] = Number(o.high);
    total += Number(o.high);
    records += Number(o.high) - Number(o.low);
  }
  return { topic, partitions: offsets.length, endOffsets: { total, byPartition }, records, groups: [] };
}

/** Adds, to each summary, the lag of every consumer group with offsets committed on the topic. */
async function addGroupLags(admin: Admin, summaries: Map<string, TopicSummary>): Promise<void> {
  const { groups } = await admin.listGroups();
  const ids = groups
    .filter((g) => g.protocolType === 'consumer' || g.protocolType === '')
    .map((g) => g.groupId)
    .sort();
  await forEachLimited(ids, 8, async (groupId) => {
    const committed = await admin.fetchOffsets({ groupId }).catch(() => []);
    for (const t of committed) {
      const summary = summaries.get(t.topic);
      if (!summary) continue;
      const lag: GroupLag = { groupId, lag: 0, byPartition: {} };
      for (const p of t.partitions) {
        if (Number(p.offset) < 0) continue; // nothing committed on this partition
        const end = summary.endOffsets.byPartition[p.partition] ?? 0;
        lag.byPartition[p.partition] = Math.max(0, end - Number(p.offset));
        lag.lag += lag.byPartition[p.partition];
      }
      if (Object.keys(lag.byPartition).length) summary.groups.push(lag);
    }
  });
  for (const s of summaries.values()) s.groups.sort((a, b) => a.groupId.localeCompare(b.groupId));
}

/** Counts the records of every DLQ topic by `sluice.error.reason`, at most `dlqLimit` per topic. */
async function countDlqReasons(
  kafka: KafkaClient,
  summaries: Map<string, TopicSummary>,
  dlqLimit: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const s of summaries.values())
    if (isDlqTopic(s.topic)) s.dlq = { counted: 0, byReason: {}, truncated: s.records > dlqLimit };
  const dlqs = [...summaries.values()].filter((s) => s.dlq && s.records > 0);
  if (!dlqs.length) return;
  // One read over every DLQ topic: one group join, whatever the number of topics.
  await readTopicRange(
    kafka,
    dlqs.map((s) => s.topic),
    {
      groupPrefix: 'sluice-topics',
      signal,
      onRecord: (r) => {
        const d = summaries.get(r.topic)!.dlq!;
        const reason = headersAsText(r.headers)['sluice.error.reason'] || '(none)';
        d.byReason[reason] = (d.byReason[reason] ?? 0) + 1;
        d.counted++;
        return d.counted >= dlqLimit ? 'skip-topic' : undefined;
      },
    },
  );
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The summaries as a plain-text table (one line per topic). */
export function formatTopicsTable(rows: TopicSummary[]): string {
  const header = ['TOPIC', 'PARTS', 'END OFFSETS (per partition)', 'GROUP LAG', 'DLQ BY REASON'];
  const lines = rows.map((r) => [
    r.topic,
    String(r.partitions),
    `${r.endOffsets.total} (${Object.values(r.endOffsets.byPartition).join('/')})`,
    r.groups.map((g) => `${g.groupId}=${g.lag}`).join(' ') || '-',
    r.dlq
      ? (Object.entries(r.dlq.byReason)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `${k}=${n}`)
          .join(' ') || '-') + (r.dlq.truncated ? ` (first ${r.dlq.counted})` : '')
      : '',
  ]);
  return textTable(header, lines).join('\n');
}
