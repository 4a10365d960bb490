import {
  Admin as PlatformaticAdmin,
  type BaseOptions,
  FindCoordinatorKeyTypes,
  ListOffsetTimestamps,
} from '@platformatic/kafka';
import type { Admin, ITopicConfig } from 'kafkajs';
import { toKafkaJsError, translated } from './toKafkaJsError.ts';

/** kafkajs' `Admin`, plus the coordinator lookup transactions need (see `createGroupCoordinators`). */
export type PlatformaticAdminSurface = Admin & { findGroupCoordinator(groupId: string): Promise<number> };

/** Longest `createTopics({ waitForLeaders: true })` waits for the new topics' leaders. */
const LEADERS_WAIT_MS = 30_000;

/**
 * The admin calls Sluice makes, kafkajs-shaped, over @platformatic/kafka's `Admin`: topics
 * (list, create, delete, metadata), offsets (watermarks, by time, a group's committed offsets) and
 * groups (list, describe, delete). Offsets are decimal strings, a group's missing commit is '-1',
 * watermarks are read uncommitted (the high watermark, as kafkajs' admin reads it), and errors are
 * kafkajs-shaped (see `toKafkaJsError`). Connecting checks that a broker answers, like kafkajs.
 *
 * @example
 *   const admin = createPlatformaticAdmin(options);
 *   await admin.connect();
 *   const ends = await admin.fetchTopicOffsets('orders'); // [{ partition: 0, offset: '42', high: '42', low: '0' }]
 */
export function createPlatformaticAdmin(options: BaseOptions): PlatformaticAdminSurface {
  const admin = new PlatformaticAdmin(options);
  const partitionsOf = async (topic: string) => {
    const meta = await admin.metadata({ topics: [topic] });
    return Array.from({ length: meta.topics.get(topic)!.partitionsCount }, (_, p) => p);
  };
  const offsetsAt = async (topic: string, partitions: number[], timestamp: bigint) => {
    const [listed] = await admin.listOffsets({
      topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp })) }],
    });
    return new Map(listed.partitions.map((p) => [p.partitionIndex, p.offset]));
  };
  const surface = {
    connect: () => translated(async () => void (await admin.listApis())),
    disconnect: () => translated(() => admin.close()),
    listTopics: () => translated(() => admin.listTopics({ includeInternals: true })),
    createTopics: (opts: { topics: ITopicConfig[]; waitForLeaders?: boolean }) =>
      translated(() => createTopics(admin, opts.topics, opts.waitForLeaders ?? true)),
    deleteTopics: (opts: { topics: string[] }) => translated(() => admin.deleteTopics({ topics: opts.topics })),
    fetchTopicMetadata: (opts: { topics?: string[] } = {}) => translated(() => topicMetadata(admin, opts.topics)),
    fetchTopicOffsets: (topic: string) =>
      translated(async () => {
        const partitions = await partitionsOf(topic);
        const [high, low] = await Promise.all([
          offsetsAt(topic, partitions, ListOffsetTimestamps.LATEST),
          offsetsAt(topic, partitions, ListOffsetTimestamps.EARLIEST),
        ]);
        return partitions.map((partition) => {
          const h = String(high.get(partition));
          return { partition, offset: h, high: h, low: String(low.get(partition)) };
        });
      }),
    fetchTopicOffsetsByTimestamp: (topic: string, timestamp?: number) =>
      translated(async () => {
        const partitions = await partitionsOf(topic);
        const [high, at] = await Promise.all([
          offsetsAt(topic, partitions, ListOffsetTimestamps.LATEST),
          offsetsAt(topic, partitions, timestamp === undefined ? ListOffsetTimestamps.LATEST : BigInt(timestamp)),
        ]);
        return partitions.map((partition) => {
          const o = at.get(partition)!;
          return { partition, offset: String(o >= 0n ? o : high.get(partition)) };
        });
      }),
    fetchOffsets: (opts: { groupId: string; topics?: string[] }) =>
      translated(() => committedOffsets(admin, opts.groupId, opts.topics, partitionsOf)),
    setOffsets: (opts: { groupId: string; topic: string; partitions: { partition: number; offset: string }[] }) =>
      translated(() =>
        admin.alterConsumerGroupOffsets({
          groupId: opts.groupId,
          topics: [
            {
              name: opts.topic,
              partitionOffsets: opts.partitions.map((p) => ({ partition: p.partition, offset: BigInt(p.offset) })),
            },
          ],
        }),
      ),
    listGroups: () =>
      translated(async () => ({
        groups: [...(await admin.listGroups()).values()].map((g) => ({ groupId: g.id, protocolType: g.protocolType })),
      })),
    describeGroups: (groupIds: string[]) => translated(() => describeGroups(admin, groupIds)),
    findGroupCoordinator: (groupId: string) =>
      translated(async () => {
        const [found] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] });
        return found.nodeId;
      }),
    deleteGroups: (groupIds: string[]) =>
      translated(async () => {
        await admin.deleteGroups({ groups: groupIds });
        return groupIds.map((groupId) => ({ groupId, errorCode: 0 }));
      }),
  };
  return surface as unknown as PlatformaticAdminSurface;
}

/**
 * Creates each topic (its own request, as each may have its own configuration); one that exists
 * already counts as done, as in kafkajs. True if any was created. With `waitForLeaders`, returns
 * once the metadata shows a leader for every partition of the new topics.
 */
async function createTopics(admin: PlatformaticAdmin, topics: ITopicConfig[], waitForLeaders: boolean) {
  const created = await Promise.all(
    topics.map(async (t) => {
      try {
        await admin.createTopics({
          topics: [{ topic: t.topic, partitions: t.numPartitions ?? -1, replicas: t.replicationFactor ?? -1 }],
          configs: (t.configEntries ?? []).map((c) => ({ name: c.name, value: c.value })),
        });
        return t.topic;
      } catch (err) {
        if ((toKafkaJsError(err) as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return undefined;
        throw err;
      }
    }),
  );
  const fresh = created.filter((t): t is string => t !== undefined);
  if (waitForLeaders && fresh.length) await waitForTopicLeaders(admin, fresh);
  return fresh.length > 0;
}

async function waitForTopicLeaders(admin: PlatformaticAdmin, topics: string[]): Promise<void> {
  const deadline = Date.now() + LEADERS_WAIT_MS;
  for (;;) {
    try {
      const meta = await admin.metadata({ topics, forceUpdate: true });
      if ([...meta.topics.values()].every((t) => t?.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** kafkajs' `fetchTopicMetadata`: every partition with its leader and replicas (all topics if none given). */
async function topicMetadata(admin: PlatformaticAdmin, topics?: string[]) {
  const names = topics ?? (await admin.listTopics({ includeInternals: true }));
  const meta = await admin.metadata({ topics: names, forceUpdate: true });
  return {
    topics: names.map((name) => ({
      name,
      partitions: (meta.topics.get(name)?.partitions ?? []).map((p, partitionId) => ({
        // kafkajs' code for LEADER_NOT_AVAILABLE when a partition has no leader yet
        partitionErrorCode: p.leader >= 0 ? 0 : 5,
        partitionId,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
        offlineReplicas: p.offlineReplicas,
      })),
    })),
  };
}

/** A group's committed offsets ('-1': none), for every partition of `topics` or every topic it committed on. */
async function committedOffsets(
  admin: PlatformaticAdmin,
  groupId: string,
  topics: string[] | undefined,
  partitionsOf: (topic: string) => Promise<number[]>,
) {
  const wanted = topics?.length
    ? await Promise.all(topics.map(async (name) => ({ name, partitionIndexes: await partitionsOf(name) })))
    : undefined;
  const [group] = await admin.listConsumerGroupOffsets({ groups: [wanted ? { groupId, topics: wanted } : groupId] });
  return (group?.topics ?? []).map((t) => ({
    topic: t.name,
    partitions: t.partitions.map((p) => ({
      partition: p.partitionIndex,
      offset: String(p.committedOffset),
      metadata: p.metadata ?? null,
    })),
  }));
}

async function describeGroups(admin: PlatformaticAdmin, groupIds: string[]) {
  const groups = await admin.describeGroups({ groups: groupIds });
  return {
    groups: groupIds.map((groupId) => {
      const g = groups.get(groupId);
      return {
        groupId,
        errorCode: 0,
        state: g?.state ?? 'Dead',
        protocolType: g?.protocolType ?? '',
        protocol: g?.protocol ?? '',
        members: [...(g?.members.values() ?? [])].map((m) => ({
          memberId: m.id,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: Buffer.alloc(0),
          memberAssignment: Buffer.alloc(0),
        })),
      };
    }),
  };
}
