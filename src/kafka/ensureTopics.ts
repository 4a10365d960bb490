import type { ITopicConfig, Kafka } from 'kafkajs';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import { isTransientKafkaError } from './isTransientKafkaError.ts';
import { retryKafka } from './retryKafka.ts';

const log = createLogger('kafka');

type Admin = ReturnType<Kafka['admin']>;

/** A topic as Sluice wants it; unset fields take the defaults given to `ensureTopics`. */
export interface TopicSpec {
  topic: string;
  partitions?: number;
  replicationFactor?: number;
  compacted?: boolean;
  config?: Record<string, string>;
}

/** Longest `ensureTopics` waits for the partitions of its topics to be served by their leaders. */
export const TOPICS_SERVED_TIMEOUT_MS = 30_000;

/**
 * Creates missing topics; checks existing ones against the spec and refuses to silently alter
 * them (partition count and cleanup policy differences are reported, not "fixed"). Returns the
 * topics it created, once every partition of each is served by its leader: a new
 * topic is in the metadata, with a leader, a few hundred milliseconds before that leader hosts
 * the partition, and a ListOffsets, Produce or Fetch in between fails with NOT_LEADER_FOR_PARTITION
 * or UNKNOWN_TOPIC_OR_PARTITION. kafkajs' own `waitForLeaders` only polls the metadata.
 *
 * @example
 *   const defaults = { partitions: 6, replicationFactor: 1 };
 *   const created = await ensureTopics(admin, [{ topic: 'products', compacted: true }], defaults);
 */
export async function ensureTopics(
  admin: Admin,
  specs: TopicSpec[],
  defaults: { partitions: number; replicationFactor: number },
  opts: { servedTimeoutMs?: number } = {},
): Promise<string[]> {
  const existing = new Set(await retryKafka(() => admin.listTopics(), 'listing topics'));
  const missing = specs.filter((s) => !existing.has(s.topic));
  const present = specs.filter((s) => existing.has(s.topic));
  if (missing.length) await createTopics(admin, missing, defaults);
  if (present.length) await checkPartitionCounts(admin, present);
  // Only new topics wait (ours, or one another process created at the same moment): every
  // Sluice creator waits before it returns, and an existing topic with a partition offline must
  // not keep a runner from starting on the others.
  if (missing.length)
    await waitUntilServed(
      admin,
      missing.map((s) => s.topic),
      opts.servedTimeoutMs ?? TOPICS_SERVED_TIMEOUT_MS,
    );
  return missing.map((s) => s.topic);
}

async function createTopics(
  admin: Admin,
  specs: TopicSpec[],
  defaults: { partitions: number; replicationFactor: number },
): Promise<void> {
  const topics = specs.map(
    (s): ITopicConfig => ({
      topic: s.topic,
      numPartitions: s.partitions ?? defaults.partitions,
      replicationFactor: s.replicationFactor ?? defaults.replicationFactor,
      configEntries: Object.entries({
        ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}),
        ...s.config,
      }).map(([name, value]) => ({ name, value })),
    }),
  );
  // Safe to retry: a topic created by an earlier attempt (or by another process meanwhile)
  // comes back as TOPIC_ALREADY_EXISTS, which kafkajs reports as success.
  await retryKafka(
    () => admin.createTopics({ waitForLeaders: true, topics }),
    `creating topics ${specs.map((s) => s.topic).join(', ')}`,
  );
}

async function checkPartitionCounts(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const meta = await retryKafka(
    () => admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) }),
    'reading topic metadata',
  );
  for (const t of meta.topics) {
    const spec = specs.find((s) => s.topic === t.name)!;
    if (spec.partitions !== undefined && t.partitions.length !== spec.partitions) {
      throw new SluiceError(
        'KAFKA_TOPIC_MISMATCH',
        `topic ${t.name} has ${t.partitions.length} partitions, expected ${spec.partitions}`,
      );
    }
  }
}

/** A poll of `waitUntilServed` that found topics not served yet: retried until the deadline. */
class TopicsNotServed extends Error {}

/**
 * Polls until each topic's metadata shows a leader for every partition AND those leaders answer
 * a ListOffsets for it (the proof that the partition is hosted, not just announced).
 */
async function waitUntilServed(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  let pending = [...new Set(topics)];
  let lastProblem = '';
  const noteProblem = (problem: string) => {
    lastProblem = problem;
  };
  const poll = async () => {
    try {
      pending = await unservedTopics(admin, pending, noteProblem);
    } catch (err) {
      if (!isTransientKafkaError(err)) throw err;
      lastProblem = (err as Error).message;
    }
    if (pending.length) throw new TopicsNotServed(lastProblem);
  };
  try {
    await withRetry(poll, {
      retries: Infinity,
      initialMs: 50,
      maxMs: 500,
      maxElapsedMs: timeoutMs,
      retriable: (err) => err instanceof TopicsNotServed,
      onRetry: (_err, attempt) => {
        if (attempt === 1)
          log.debug({ topics: pending, problem: lastProblem }, 'waiting for new topics to be served by their leaders');
      },
    });
  } catch (err) {
    if (!(err instanceof TopicsNotServed)) throw err;
    throw new SluiceError(
      'KAFKA_TRANSIENT',
      `topics ${pending.join(', ')} are not served by their partition leaders after ${timeoutMs} ms (${lastProblem})`,
      { details: { topics: pending } },
    );
  }
}

/** Those of `topics` not yet served by the leaders of all their partitions. */
async function unservedTopics(
  admin: Admin,
  topics: string[],
  noteProblem: (problem: string) => void,
): Promise<string[]> {
  const meta = await admin.fetchTopicMetadata({ topics });
  const led = meta.topics
    .filter((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0))
    .map((t) => t.name);
  if (led.length < topics.length) noteProblem('a partition has no leader in the metadata yet');
  const served = await Promise.all(
    led.map(async (topic) => {
      try {
        await admin.fetchTopicOffsets(topic);
        return topic;
      } catch (err) {
        if (!isTransientKafkaError(err)) throw err;
        noteProblem(`${topic}: ${(err as Error).message}`);
        return undefined;
      }
    }),
  );
  return topics.filter((t) => !served.includes(t));
}
