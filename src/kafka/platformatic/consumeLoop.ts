import {
  type ConnectionPool,
  type Consumer as PlatformaticConsumer,
  FetchIsolationLevels,
  ListOffsetTimestamps,
} from '@platformatic/kafka';
import { createLogger } from '../../core/log.ts';
import { isTransientKafkaError } from '../isTransientKafkaError.ts';
import { type BatchContext, HandlerError, handleBatch } from './batchHandling.ts';
import { CONSUMER_EVENTS } from './consumerEvents.ts';
import { FetchedBatch } from './fetchedBatch.ts';
import { retryDelay } from './platformaticOptions.ts';
import { toKafkaJsError } from './toKafkaJsError.ts';

const log = createLogger('kafka');

type FetchResponse = Awaited<ReturnType<PlatformaticConsumer['fetch']>>;
type FetchRequestTopic = Parameters<PlatformaticConsumer['fetch']>[0]['topics'][number];

/** How the loop fetches. */
export interface FetchSettings {
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  maxBytesPerPartition: number;
  readCommitted: boolean;
  /** Consecutive failures (fetch or handler) before the consumer counts as crashed and restarts. */
  retries: number;
}

/** What the loop needs from its consumer, beyond handling batches. */
export interface LoopContext extends BatchContext {
  client: PlatformaticConsumer;
  pool: ConnectionPool;
  settings: FetchSettings;
  /** The partitions assigned now (topic → partitions); empty while a rebalance is under way. */
  assignment(): Map<string, number[]>;
  /** Where a partition without committed offset starts: true = earliest, false = latest. */
  fromBeginning(topic: string): boolean;
  /** Failures that outlasted the retries: `restart` false when retrying cannot help. */
  crashed(error: unknown, restart: boolean): void;
}

/** One partition asked for in a fetch, by node. */
interface NodeRequest {
  topics: FetchRequestTopic[];
  names: Map<string, string>;
  offsets: Map<string, bigint>;
}

/**
 * The fetch loop of a platformatic-backed consumer, kafkajs' runner in small: fetch every assigned,
 * unpaused partition from its current position (the committed offset at first, else the earliest
 * or latest), hand each partition's share to `handleBatch` one at a time, repeat. Group membership
 * and heartbeats are @platformatic/kafka's (from timers, whatever the handlers do).
 *
 * Failures — of a fetch or of a handler — are retried with backoff from the same positions (a
 * handler's batch is fetched again); an offset out of range restarts the partition at its default
 * offset, as in kafkajs; `settings.retries` consecutive failures count as a crash (`crashed`), with
 * a restart unless the error is a Kafka error retrying cannot fix.
 *
 * @example
 *   const loop = new ConsumeLoop(context);
 *   const done = loop.run(); // until context.isRunning() is false
 */
export class ConsumeLoop {
  readonly #ctx: LoopContext;
  #wake: (() => void) | undefined;

  constructor(ctx: LoopContext) {
    this.#ctx = ctx;
  }

  /** Ends a wait for something to fetch (an assignment, a resume, a seek, a stop). */
  wake(): void {
    this.#wake?.();
  }

  async run(): Promise<void> {
    let failures = 0;
    while (this.#ctx.isRunning()) {
      try {
        const fetched = await this.#iteration();
        failures = 0;
        if (!fetched) await this.#sleep(this.#ctx.settings.maxWaitTime);
      } catch (err) {
        if (!this.#ctx.isRunning()) return;
        if (hasOffsetOutOfRange(err)) {
          await this.#resetOutOfRange(err);
          continue;
        }
        const error = err instanceof HandlerError ? err : toKafkaJsError(err);
        const kafkaError = !(err instanceof HandlerError);
        if (kafkaError && !isTransientKafkaError(error) && (error as { retriable?: boolean }).retriable !== true) {
          this.#ctx.crashed(error, false);
          return;
        }
        if (++failures > this.#ctx.settings.retries) {
          failures = 0;
          this.#ctx.crashed(error, true);
        } else if (failures === 1)
          log.warn({ err: (error as Error).message, type: (error as { type?: string }).type }, 'consumer fetch failed');
        await this.#sleep(retryDelay(null, 'fetch', failures));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  /** One fetch and its batches; false when there was nothing to fetch. */
  async #iteration(): Promise<boolean> {
    const { positions, paused } = this.#ctx;
    const assigned = this.#ctx.assignment();
    positions.applySeeks(assigned);
    const active = new Map<string, number[]>();
    for (const [topic, ps] of assigned) {
      const unpaused = ps.filter((p) => !paused.isPaused(topic, p));
      if (unpaused.length) active.set(topic, unpaused);
    }
    if (!active.size) return false;
    const generation = positions.generation;
    if (!(await this.#initPositions(active, generation))) return true;
    const requests = await this.#requestsByNode(active);
    if (!requests.size) return false;
    const responses = await Promise.all([...requests].map(([node, req]) => this.#fetch(node, req)));
    if (generation !== positions.generation) return true;
    for (const [i, [, req]] of [...requests].entries()) {
      for (const batch of this.#batchesOf(responses[i], req)) {
        if (!this.#ctx.isRunning() || generation !== positions.generation) return true;
        if (paused.isPaused(batch.topic, batch.partition) || positions.hasSeek(batch.topic, batch.partition)) continue;
        await handleBatch(this.#ctx, batch, generation);
      }
    }
    return true;
  }

  /** Positions for partitions that have none: the group's committed offsets, else the default. False: stale. */
  async #initPositions(active: Map<string, number[]>, generation: number): Promise<boolean> {
    const { client, positions } = this.#ctx;
    const missing = positions.missing(active);
    if (!missing.size) return true;
    const committed = await client.listCommittedOffsets({
      topics: [...missing].map(([topic, partitions]) => ({ topic, partitions })),
    });
    if (generation !== positions.generation) return false;
    const byDefault = new Map<string, number[]>();
    for (const [topic, ps] of missing) {
      for (const p of ps) {
        const offset = committed.get(topic)?.[p];
        if (offset !== undefined && offset >= 0n) positions.set(topic, p, offset);
        else byDefault.set(topic, [...(byDefault.get(topic) ?? []), p]);
      }
    }
    for (const [topic, ps] of byDefault) {
      const offsets = await this.#defaultOffsets(topic, ps);
      if (generation !== positions.generation) return false;
      for (const p of ps) positions.set(topic, p, offsets[p]);
    }
    return true;
  }

  /** Where partitions without a committed offset start: earliest or latest (last stable, read committed). */
  async #defaultOffsets(topic: string, partitions: number[]): Promise<bigint[]> {
    const offsets = await this.#ctx.client.listOffsets({
      topics: [topic],
      partitions: { [topic]: partitions },
      timestamp: this.#ctx.fromBeginning(topic) ? ListOffsetTimestamps.EARLIEST : ListOffsetTimestamps.LATEST,
      isolationLevel: this.#isolationLevel(),
    });
    return offsets.get(topic) ?? [];
  }

  #isolationLevel(): number {
    return this.#ctx.settings.readCommitted
      ? FetchIsolationLevels.READ_COMMITTED
      : FetchIsolationLevels.READ_UNCOMMITTED;
  }

  /** The active partitions grouped by the node leading them, from (cached) metadata. */
  async #requestsByNode(active: Map<string, number[]>): Promise<Map<number, NodeRequest>> {
    const { client, positions, settings } = this.#ctx;
    const meta = await client.metadata({ topics: [...active.keys()] });
    const byNode = new Map<number, NodeRequest>();
    for (const [topic, ps] of active) {
      const t = meta.topics.get(topic);
      if (!t) continue;
      for (const p of ps) {
        const leader = t.partitions[p]?.leader ?? -1;
        const fetchOffset = positions.get(topic, p);
        if (leader < 0 || fetchOffset === undefined) {
          client.clearMetadata();
          continue;
        }
        let req = byNode.get(leader);
        if (!req) byNode.set(leader, (req = { topics: [], names: new Map(), offsets: new Map() }));
        let topicReq = req.topics.find((r) => r.topicId === t.id);
        if (!topicReq) req.topics.push((topicReq = { topicId: t.id, partitions: [] }));
        const partitionMaxBytes = settings.maxBytesPerPartition;
        topicReq.partitions.push({
          partition: p,
          fetchOffset,
          partitionMaxBytes,
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
        });
        req.names.set(t.id, topic);
        req.offsets.set(`${topic}:${p}`, fetchOffset);
      }
    }
    return byNode;
  }

  async #fetch(node: number, req: NodeRequest): Promise<FetchResponse> {
    const { client, pool, settings, events } = this.#ctx;
    const started = Date.now();
    events.emit(CONSUMER_EVENTS.FETCH_START, { nodeId: node });
    const response = await client.fetch({
      node,
      topics: req.topics,
      maxWaitTime: settings.maxWaitTime,
      minBytes: settings.minBytes,
      maxBytes: settings.maxBytes,
      isolationLevel: this.#isolationLevel(),
      connectionPool: pool,
    });
    events.emit(CONSUMER_EVENTS.FETCH, { numberOfBatches: 0, duration: Date.now() - started, nodeId: node });
    return response;
  }

  /** The batches of a response for the partitions asked (a fetch session may add others: skipped). */
  *#batchesOf(response: FetchResponse, req: NodeRequest): Generator<FetchedBatch> {
    for (const t of response.responses) {
      const topic = req.names.get(t.topicId);
      if (topic === undefined) continue;
      for (const p of t.partitions) {
        const offset = req.offsets.get(`${topic}:${p.partitionIndex}`);
        if (offset === undefined) continue;
        yield new FetchedBatch(topic, p.partitionIndex, offset, p, this.#ctx.settings.readCommitted);
      }
    }
  }

  /** Partitions whose position is out of range start again from their default offset (kafkajs' recovery). */
  async #resetOutOfRange(err: unknown): Promise<void> {
    const { positions } = this.#ctx;
    const generation = positions.generation;
    const response = fetchResponseOf(err);
    const assigned = this.#ctx.assignment();
    const names = new Map<string, string>();
    const meta = await this.#ctx.client.metadata({ topics: [...assigned.keys()] });
    for (const [name, t] of meta.topics) if (t) names.set(t.id, name);
    for (const t of response?.responses ?? []) {
      const topic = names.get(t.topicId);
      if (!topic) continue;
      const bad = t.partitions.filter((p) => p.errorCode === OFFSET_OUT_OF_RANGE).map((p) => p.partitionIndex);
      if (!bad.length) continue;
      log.warn({ topic, partitions: bad }, 'offset out of range, resetting to the default offset');
      const offsets = await this.#defaultOffsets(topic, bad);
      if (generation !== positions.generation) return;
      for (const p of bad) positions.set(topic, p, offsets[p]);
    }
  }
}

const OFFSET_OUT_OF_RANGE = 1;

/** The fetch response a failed fetch carries (on the error, or on the last attempt of a retry chain). */
function fetchResponseOf(err: unknown): FetchResponse | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { response, errors } = e as { response?: FetchResponse; errors?: unknown[] };
    if (response?.responses) return response;
    e = Array.isArray(errors) ? errors[errors.length - 1] : undefined;
  }
  return undefined;
}

function hasOffsetOutOfRange(err: unknown): boolean {
  const response = fetchResponseOf(err);
  return !!response?.responses?.some((t) => t.partitions?.some((p) => p.errorCode === OFFSET_OUT_OF_RANGE));
}
