import { createLogger } from '../core/log.ts';
import type { TopologyInstance } from '../engine/topologyInstance.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Consumer } from '../kafka/kafkaTypes.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import { readToEnd } from '../kafka/readRange.ts';
import type { SinkConnector } from '../topology/types.ts';

/**
 * Where a runner resumes after an assignment: the state stores rebuilt from their changelogs, and
 * the consumer positioned where the durable effects end (the group's commit, a sink's stored
 * offsets, or — with exactly-once — the committed offsets read after fencing).
 */

const log = createLogger('runner');

export type Assignment = Record<string, number[]>;

/**
 * State for the partitions this runner now owns, rebuilt from the changelogs alone: whatever was
 * in memory is dropped first (records not yet in a changelog are re-delivered from the committed
 * offsets). The caller flushes outputs in flight first, so the changelogs are complete.
 */
export async function restoreStores(
  kafka: KafkaClient,
  instance: TopologyInstance,
  assignment: Assignment,
  topology: string,
): Promise<void> {
  const all = new Set(Object.values(assignment).flat());
  for (const s of instance.stores()) {
    const owned = s.inputTopic ? new Set(assignment[s.inputTopic] ?? []) : all;
    instance.resetStore(s.changelog);
    if (!owned.size) continue;
    const started = Date.now();
    const n = await readToEnd(
      kafka,
      s.changelog,
      (p, key, value) => {
        if (key !== null) instance.restore(s.changelog, p, key, value);
      },
      owned,
    );
    const ms = Date.now() - started;
    log.info({ topology, store: s.store, partitions: [...owned], records: n, ms }, 'state restored');
  }
}

/**
 * Exactly-once sinks keep their own offsets; resume each assigned partition from there. When
 * several sinks are fed by one topic, the lowest stored offset wins: a sink that is ahead drops
 * what it already has, one that is behind must not miss rows.
 */
export async function seekToSinkOffsets(
  sinks: SinkConnector[],
  consumer: Consumer,
  assignment: Assignment,
): Promise<void> {
  const withOffsets = sinks.filter((s) => s.storedOffsets);
  if (!withOffsets.length) return;
  for (const [topic, partitions] of Object.entries(assignment)) {
    const stored = await Promise.all(withOffsets.map((s) => s.storedOffsets!(topic)));
    for (const p of partitions) {
      const offsets = stored.map((m) => m.get(p));
      // A sink that has never seen this partition has no say: it starts where the group is.
      const known = offsets.filter((o): o is string => o !== undefined);
      if (known.length < offsets.length || !known.length) continue;
      const lowest = known.reduce((a, b) => (BigInt(a) < BigInt(b) ? a : b));
      consumer.seek({ topic, partition: p, offset: lowest });
    }
  }
}

/** Seeks every assigned partition to the group's committed offset (exactly-once, after fencing). */
export async function seekToCommitted(
  kafka: KafkaClient,
  consumer: Consumer,
  groupId: string,
  assignment: Assignment,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await retryKafka(
      () => admin.fetchOffsets({ groupId, topics: Object.keys(assignment) }),
      'the committed offsets',
    );
    for (const { topic, partitions } of committed) {
      for (const { partition, offset } of partitions) {
        if (assignment[topic]?.includes(partition) && offset !== '-1') consumer.seek({ topic, partition, offset });
      }
    }
  } finally {
    await admin.disconnect();
  }
}
