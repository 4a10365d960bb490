import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, KafkaMessage } from '../kafka/kafkaTypes.ts';
import { KAFKAJS_REBALANCE_TIMEOUT_MS, keepSessionAlive } from '../kafka/keepSessionAlive.ts';
import { FEED_HEARTBEAT_MS } from './feedConsumer.ts';
import { tpKey } from './feedCursor.ts';

const FEED_SESSION = { heartbeatInterval: FEED_HEARTBEAT_MS, maxProcessingMs: KAFKAJS_REBALANCE_TIMEOUT_MS };

/** What `tailMetricTopics` asks of the log it feeds. */
export interface TailHooks {
  /** False once this consumer has been replaced or the log closed: its events are then ignored. */
  isCurrent(): boolean;
  /** Where a partition is read from (undefined: from the beginning). */
  positionOf(tp: string): number | undefined;
  /** Resolves once the batch's schemas are at hand (see `prepareBatch`). */
  prepare(messages: KafkaMessage[]): Promise<void>;
  /** Applies a batch's records, synchronously. */
  apply(batch: EachBatchPayload['batch']): void;
  /** Resolves when the batch's updates may be followed by more (the clients' send buffers have room). */
  pace(): Promise<void>;
  /** The partition has been read up to `next` (exclusive). */
  passed(tp: string, next: number): void;
  crashed(error: Error): void;
}

/**
 * Runs the feed's live consumer on `topics` (topic → partition count): subscribed to all their
 * partitions, each sought to the log's position, never committing. Resolves once it runs.
 *
 * @example
 *   await tailMetricTopics(feedConsumer(kafka, groupId), new Map([['metrics.x', 3]]), hooks);
 */
export async function tailMetricTopics(consumer: Consumer, topics: Map<string, number>, hooks: TailHooks) {
  const seekAll = (assignment: Record<string, number[]>) => {
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const pos = hooks.positionOf(tpKey(topic, partition));
        if (pos !== undefined) consumer.seek({ topic, partition, offset: String(pos) });
      }
    }
  };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    if (hooks.isCurrent()) seekAll(payload.memberAssignment);
  });
  // Batches of nothing but transaction markers never reach eachBatch; the position moves past them here.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (hooks.isCurrent()) hooks.passed(tpKey(payload.topic, payload.partition), Number(payload.lastOffset) + 1);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (hooks.isCurrent()) hooks.crashed(payload.error);
  });
  await consumer.connect();
  // fromBeginning only matters for a partition with no position yet (created since the last
  // refresh): its first records must not be skipped.
  await consumer.subscribe({ topics: [...topics.keys()], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    // Pacing may hold a batch for up to the feed's drain timeout: heartbeat meanwhile.
    eachBatch: keepSessionAlive<EachBatchPayload>(async ({ batch, heartbeat }) => {
      if (!hooks.isCurrent()) return;
      await hooks.prepare(batch.messages);
      if (!hooks.isCurrent()) return;
      hooks.apply(batch);
      // Let sockets drain and other work run between batches: without a real turn of the event
      // loop a large fetch would be pushed to every client in one uninterrupted burst.
      await yieldToEventLoop();
      await hooks.pace();
      await heartbeat();
    }, FEED_SESSION),
  });
  seekAll(Object.fromEntries([...topics].map(([t, n]) => [t, Array.from({ length: n }, (_, p) => p)])));
}
