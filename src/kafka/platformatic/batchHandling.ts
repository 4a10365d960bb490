import type { EachBatchPayload, EachMessagePayload, Offsets } from 'kafkajs';
import { CONSUMER_EVENTS, type ConsumerEvents } from './consumerEvents.ts';
import type { FetchedBatch } from './fetchedBatch.ts';
import type { PartitionPositions } from './partitionPositions.ts';
import type { PauseState } from './pauseState.ts';

/** The handlers and flags of `consumer.run`, as kafkajs takes them. */
export interface RunHandlers {
  eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  /** Commit the resolved offsets after each batch (kafkajs' default: true). */
  autoCommit?: boolean;
  /** Resolve the batch's last offset when `eachBatch` returns (kafkajs' default: true). */
  eachBatchAutoResolve?: boolean;
}

/** An error thrown by the application's handler, not by Kafka: the batch is fetched again. */
export class HandlerError extends Error {}

/** What handling a batch needs from its consumer. */
export interface BatchContext {
  events: ConsumerEvents;
  positions: PartitionPositions;
  paused: PauseState;
  handlers: RunHandlers;
  isRunning(): boolean;
  /** Commits `offsets` (next offsets to read) for the group. */
  commit(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

/**
 * Hands one fetched batch to the application the way kafkajs' runner does: START_BATCH_PROCESS,
 * `eachBatch` (or `eachMessage` per record), the auto-resolve of the last offset, END_BATCH_PROCESS,
 * the auto-commit. A batch of only transaction markers (or aborted records) reaches no handler but
 * moves the position and is reported through the two events, so that readers waiting for an end
 * offset see the markers passed. Offsets resolved for a batch that went stale (a seek, a new
 * assignment) move nothing.
 *
 * @example
 *   await handleBatch(context, batch, positions.generation);
 */
export async function handleBatch(ctx: BatchContext, batch: FetchedBatch, generation: number): Promise<void> {
  const { topic, partition } = batch;
  const started = Date.now();
  const summary = {
    topic,
    partition,
    highWatermark: batch.highWatermark,
    offsetLag: batch.offsetLag(),
    offsetLagLow: batch.offsetLagLow(),
    batchSize: batch.messages.length,
    firstOffset: batch.firstOffset(),
    lastOffset: batch.lastOffset(),
  };
  const resolve = (offset: string) => ctx.positions.resolve(topic, partition, BigInt(offset), generation);
  if (batch.isEmptyDueToFiltering()) {
    ctx.events.emit(CONSUMER_EVENTS.START_BATCH_PROCESS, summary);
    resolve(batch.lastOffset());
    await autoCommit(ctx, topic, partition, generation);
    ctx.events.emit(CONSUMER_EVENTS.END_BATCH_PROCESS, { ...summary, duration: Date.now() - started });
    return;
  }
  if (batch.isEmpty()) return;
  ctx.events.emit(CONSUMER_EVENTS.START_BATCH_PROCESS, summary);
  try {
    if (ctx.handlers.eachMessage) await eachMessage(ctx, batch, generation);
    else if (ctx.handlers.eachBatch) {
      await ctx.handlers.eachBatch(batchPayload(ctx, batch, generation));
      if (ctx.handlers.eachBatchAutoResolve !== false) resolve(batch.lastOffset());
    }
  } catch (err) {
    throw err instanceof HandlerError ? err : new HandlerError((err as Error)?.message ?? String(err), { cause: err });
  }
  ctx.events.emit(CONSUMER_EVENTS.END_BATCH_PROCESS, { ...summary, duration: Date.now() - started });
  await autoCommit(ctx, topic, partition, generation);
}

function pauseOf(ctx: BatchContext, topic: string, partition: number) {
  return () => {
    ctx.paused.pause([{ topic, partitions: [partition] }]);
    return () => ctx.paused.resume([{ topic, partitions: [partition] }]);
  };
}

function batchPayload(ctx: BatchContext, batch: FetchedBatch, generation: number): EachBatchPayload {
  const { topic, partition } = batch;
  const lastMessage = batch.messages.at(-1)?.offset;
  const isStale = () => generation !== ctx.positions.generation || ctx.positions.hasSeek(topic, partition);
  return {
    batch,
    resolveOffset: (offset: string) => {
      // A transaction's markers follow its last record and reach no handler: resolving that
      // record resolves them too (kafkajs does the same), or the position would stop short of them.
      const upTo = offset === lastMessage ? batch.lastOffset() : offset;
      ctx.positions.resolve(topic, partition, BigInt(upTo), generation);
    },
    // @platformatic/kafka heartbeats from a timer, whatever the handler does.
    heartbeat: async () => {},
    pause: pauseOf(ctx, topic, partition),
    commitOffsetsIfNecessary: async (offsets?: Offsets) => {
      if (offsets) await ctx.commit(offsets.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
      else await autoCommit(ctx, topic, partition, generation);
    },
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => ctx.isRunning(),
    isStale,
  } as unknown as EachBatchPayload;
}

async function eachMessage(ctx: BatchContext, batch: FetchedBatch, generation: number): Promise<void> {
  const { topic, partition } = batch;
  const pause = pauseOf(ctx, topic, partition);
  for (const [i, message] of batch.messages.entries()) {
    if (!ctx.isRunning() || ctx.positions.hasSeek(topic, partition) || generation !== ctx.positions.generation) return;
    await ctx.handlers.eachMessage!({ topic, partition, message, heartbeat: async () => {}, pause });
    const last = i === batch.messages.length - 1;
    ctx.positions.resolve(topic, partition, BigInt(last ? batch.lastOffset() : message.offset), generation);
    if (ctx.paused.isPaused(topic, partition)) return;
  }
}

/** With autoCommit, commits the partition's position (the next offset to read). */
async function autoCommit(ctx: BatchContext, topic: string, partition: number, generation: number) {
  if (ctx.handlers.autoCommit === false || generation !== ctx.positions.generation) return;
  const next = ctx.positions.get(topic, partition);
  if (next !== undefined) await ctx.commit([{ topic, partition, offset: next.toString() }]);
}
