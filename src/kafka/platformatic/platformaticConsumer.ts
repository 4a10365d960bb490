import {
  type BaseOptions,
  ConnectionPool,
  type ConsumerGroupJoinPayload,
  Consumer as PlatformaticConsumer,
} from '@platformatic/kafka';
import type { Consumer, ConsumerRunConfig } from 'kafkajs';
import { createLogger } from '../../core/log.ts';
import { isTransientKafkaError } from '../isTransientKafkaError.ts';
import { KAFKAJS_REBALANCE_TIMEOUT_MS } from '../keepSessionAlive.ts';
import { CONSUMER_EVENTS, ConsumerEvents } from './consumerEvents.ts';
import { ConsumeLoop, type FetchSettings } from './consumeLoop.ts';
import { PartitionPositions } from './partitionPositions.ts';
import { PauseState, type TopicPartitionsSelector } from './pauseState.ts';
import { retryDelay } from './platformaticOptions.ts';
import { toKafkaJsError, translated } from './toKafkaJsError.ts';

const log = createLogger('kafka');

/**
 * The group protocol members announce: kafkajs' name for round robin, so that kafkajs and
 * platformatic members can share a group (a rolling switch of drivers); the leader assigns.
 */
const GROUP_PROTOCOLS = [{ name: 'RoundRobinAssigner', version: 1 }];

/** The kafkajs consumer options Sluice passes (see `createConsumer` and `feedConsumer`). */
export interface PlatformaticConsumerConfig {
  groupId: string;
  sessionTimeout?: number;
  heartbeatInterval?: number;
  rebalanceTimeout?: number;
  maxWaitTimeInMs?: number;
  minBytes?: number;
  maxBytes?: number;
  maxBytesPerPartition?: number;
  readUncommitted?: boolean;
  allowAutoTopicCreation?: boolean;
}

/**
 * A kafkajs-shaped consumer over @platformatic/kafka: `subscribe`, `run({ eachBatch | eachMessage })`,
 * `seek`, `pause`/`resume`, `commitOffsets`, the instrumentation events Sluice listens to
 * (GROUP_JOIN with `memberAssignment`, CRASH with `restart`, REBALANCING, END_BATCH_PROCESS, …)
 * and `stop`/`disconnect`. Reads committed records unless `readUncommitted`; offsets are strings.
 *
 * @platformatic/kafka's `Consumer` keeps the group membership (join, sync, heartbeats from a timer,
 * rejoin after a rebalance); its message stream is not used — it has no per-partition pause or
 * seek — the fetch loop is `ConsumeLoop`, on a connection pool of its own so that a fetch waiting
 * for data never delays a heartbeat or a commit.
 *
 * @example
 *   const consumer = createPlatformaticConsumer(options, { groupId: 'sluice-x', sessionTimeout: 6000 });
 *   await consumer.connect();
 *   await consumer.subscribe({ topics: ['orders'], fromBeginning: true });
 *   await consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => {} });
 */
export function createPlatformaticConsumer(options: BaseOptions, config: PlatformaticConsumerConfig): Consumer {
  return new PlatformaticConsumerAdapter(options, config) as unknown as Consumer;
}

class PlatformaticConsumerAdapter {
  readonly events = CONSUMER_EVENTS;
  readonly #options: BaseOptions;
  readonly #groupId: string;
  readonly #client: PlatformaticConsumer;
  readonly #settings: FetchSettings;
  readonly #emitter = new ConsumerEvents();
  readonly #positions = new PartitionPositions();
  readonly #paused = new PauseState();
  /** Subscribed topics and whether each starts from the beginning when the group has no offset. */
  readonly #topics = new Map<string, boolean>();
  #assignment = new Map<string, number[]>();
  #rebalancing = false;
  #runConfig: ConsumerRunConfig | undefined;
  #running = false;
  #pool: ConnectionPool | undefined;
  #loop: ConsumeLoop | undefined;
  #looping: Promise<void> | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #joinStartedAt = 0;

  constructor(options: BaseOptions, config: PlatformaticConsumerConfig) {
    this.#options = options;
    this.#groupId = config.groupId;
    const sessionTimeout = config.sessionTimeout ?? 30_000;
    const maxWaitTime = config.maxWaitTimeInMs ?? 5000;
    this.#settings = {
      maxWaitTime,
      minBytes: config.minBytes ?? 1,
      maxBytes: config.maxBytes ?? 10 * 1024 * 1024,
      maxBytesPerPartition: config.maxBytesPerPartition ?? 1024 * 1024,
      readCommitted: !config.readUncommitted,
      retries: typeof options.retries === 'number' ? options.retries : 5,
    };
    this.#client = new PlatformaticConsumer({
      ...options,
      groupId: config.groupId,
      autocommit: false,
      sessionTimeout,
      rebalanceTimeout: Math.max(config.rebalanceTimeout ?? KAFKAJS_REBALANCE_TIMEOUT_MS, sessionTimeout),
      heartbeatInterval: config.heartbeatInterval ?? 3000,
      protocols: GROUP_PROTOCOLS,
      maxWaitTime,
      isolationLevel: this.#settings.readCommitted ? 1 : 0,
    });
    this.#client.on('consumer:group:join', (payload) => this.#onJoin(payload));
    this.#client.on('consumer:group:rebalance', () => this.#onRebalance());
    // A rejoin that failed for good: without a listener, the 'error' event would throw.
    (this.#client as unknown as NodeJS.EventEmitter).on('error', (err: unknown) => this.#onGroupError(err));
  }

  connect(): Promise<void> {
    return translated(async () => {
      await this.#client.listApis();
      this.#emitter.emit(CONSUMER_EVENTS.CONNECT, {});
    });
  }

  async subscribe(opts: { topic?: string | RegExp; topics?: (string | RegExp)[]; fromBeginning?: boolean }) {
    if (this.#runConfig) throw new Error('Cannot subscribe to topic while consumer is running');
    const topics = opts.topics ?? (opts.topic !== undefined ? [opts.topic] : []);
    if (!topics.length) throw new Error('Missing required argument "topics"');
    for (const t of topics) {
      if (typeof t !== 'string') throw new Error('the platformatic driver subscribes to topic names only');
      this.#topics.set(t, opts.fromBeginning ?? false);
    }
  }

  async run(config: ConsumerRunConfig = {}): Promise<void> {
    if (this.#runConfig) {
      log.warn({ groupId: this.#groupId }, 'consumer#run was called while the consumer is already running');
      return;
    }
    // Set before the first await: seek() and pause() right after a run() not awaited must work.
    this.#runConfig = config;
    this.#running = true;
    this.#pool = new ConnectionPool(this.#options.clientId, this.#options);
    this.#loop = new ConsumeLoop({
      client: this.#client,
      pool: this.#pool,
      settings: this.#settings,
      events: this.#emitter,
      positions: this.#positions,
      paused: this.#paused,
      handlers: config,
      isRunning: () => this.#running,
      assignment: () => (this.#rebalancing ? new Map() : this.#assignment),
      fromBeginning: (topic) => this.#topics.get(topic) ?? false,
      commit: (offsets) => this.commitOffsets(offsets),
      crashed: (error, restart) => this.#crashed(error, restart),
    });
    for (const topic of this.#topics.keys()) this.#client.topics.track(topic);
    await this.#join();
  }

  /** Joins the group, then starts the loop; a failed join is a crash (restarted when transient). */
  async #join(): Promise<void> {
    this.#joinStartedAt = Date.now();
    try {
      await this.#client.joinGroup({});
    } catch (err) {
      const error = toKafkaJsError(err);
      if (this.#running) this.#crashed(error, isRestartable(error));
      return;
    }
    if (this.#running) this.#looping ??= this.#loop!.run();
  }

  #onJoin(payload: ConsumerGroupJoinPayload): void {
    this.#rebalancing = false;
    this.#assignment = new Map(
      (payload.assignments ?? []).map((a) => [a.topic, [...a.partitions].sort((x, y) => x - y)]),
    );
    this.#positions.newGeneration();
    this.#emitter.emit(CONSUMER_EVENTS.GROUP_JOIN, {
      duration: Date.now() - this.#joinStartedAt,
      groupId: this.#groupId,
      isLeader: payload.isLeader ?? false,
      leaderId: payload.isLeader ? payload.memberId : '',
      groupProtocol: GROUP_PROTOCOLS[0].name,
      memberId: payload.memberId,
      memberAssignment: Object.fromEntries(this.#assignment),
    });
    this.#loop?.wake();
  }

  #onRebalance(): void {
    if (!this.#running) return;
    this.#joinStartedAt = Date.now();
    this.#rebalancing = true;
    this.#emitter.emit(CONSUMER_EVENTS.REBALANCING, { groupId: this.#groupId, memberId: this.#client.memberId });
  }

  #onGroupError(err: unknown): void {
    if (!this.#running) return;
    const error = toKafkaJsError(err);
    this.#crashed(error, isRestartable(error));
  }

  /**
   * A crash, reported like kafkajs' (CRASH with `restart`). A restart rejoins the group after a
   * backoff: a new generation, so GROUP_JOIN comes again and positions are read from the committed
   * offsets. Without restart the consumer stops and leaves the group.
   */
  #crashed(error: unknown, restart: boolean): void {
    this.#emitter.emit(CONSUMER_EVENTS.CRASH, { error, groupId: this.#groupId, restart });
    if (!restart) {
      void this.stop();
      return;
    }
    this.#rebalancing = true;
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(
      () => {
        if (this.#running) void this.#join();
      },
      retryDelay(null, 'restart', 3),
    );
  }

  seek({ topic, partition, offset }: { topic: string; partition: number; offset: string }): void {
    this.#requireRun();
    const at = BigInt(offset);
    if (at < 0n) throw new Error(`the platformatic driver seeks to offsets only, not to ${offset}`);
    this.#positions.seek(topic, partition, at);
    this.#loop?.wake();
  }

  pause(selectors: TopicPartitionsSelector[]): void {
    this.#requireRun();
    this.#paused.pause(selectors);
  }

  resume(selectors: TopicPartitionsSelector[]): void {
    this.#requireRun();
    this.#paused.resume(selectors);
    this.#loop?.wake();
  }

  paused() {
    return this.#paused.paused(this.#assignment);
  }

  /**
   * Commits `offsets` (the next offsets to read) for the partitions this member is assigned now; a
   * commit for a partition lost to a rebalance is dropped (the broker would refuse it, and
   * @platformatic/kafka would rejoin and commit it again under the new generation).
   */
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    this.#requireRun();
    const mine = offsets.filter((o) => this.#assignment.get(o.topic)?.includes(o.partition));
    if (!mine.length) return;
    await translated(() =>
      this.#client.commit({
        offsets: mine.map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: BigInt(o.offset),
          leaderEpoch: -1,
        })),
      }),
    );
    this.#emitter.emit(CONSUMER_EVENTS.COMMIT_OFFSETS, {
      groupId: this.#groupId,
      memberId: this.#client.memberId,
      groupGenerationId: this.#client.generationId,
      topics: mine.map((o) => ({ topic: o.topic, partitions: [{ partition: o.partition, offset: o.offset }] })),
    });
  }

  on(name: string, listener: (event: any) => unknown): () => void {
    return this.#emitter.on(name, listener);
  }

  /** Stops fetching once the batch in hand is handled, then leaves the group. */
  async stop(): Promise<void> {
    const wasRunning = this.#running;
    this.#running = false;
    clearTimeout(this.#restartTimer);
    this.#loop?.wake();
    await this.#looping?.catch(() => {});
    this.#looping = undefined;
    if (!wasRunning) return;
    await new Promise<void>((resolve) => this.#client.leaveGroup(true, () => resolve()));
    this.#emitter.emit(CONSUMER_EVENTS.STOP, {});
  }

  async disconnect(): Promise<void> {
    await this.stop();
    await translated(() => this.#client.close(true));
    await new Promise<void>((resolve) => (this.#pool ? this.#pool.close(() => resolve()) : resolve()));
    this.#emitter.emit(CONSUMER_EVENTS.DISCONNECT, {});
  }

  logger() {
    return log;
  }

  #requireRun(): void {
    if (!this.#runConfig) throw new Error('Consumer group was not initialized, consumer#run must be called first');
  }
}

/** kafkajs restarts a crashed consumer when retries ran out or the error says it is retriable. */
function isRestartable(error: unknown): boolean {
  const { name, retriable } = error as { name?: string; retriable?: boolean };
  return name === 'KafkaJSNumberOfRetriesExceeded' || retriable === true || isTransientKafkaError(error);
}
