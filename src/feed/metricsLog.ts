import { randomBytes } from 'node:crypto';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { withRetry } from '../core/retry.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { Admin, Consumer, EachBatchPayload } from '../kafka/kafkaTypes.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { parseTpKey, tpKey } from './feedCursor.ts';
import { metricOfTopic, topicOfMetric, type LoggedUpdate } from './feedUpdate.ts';
import { LatestResults } from './latestResults.ts';
import { feedConsumer } from './feedConsumer.ts';
import { prepareBatch, recordToUpdate } from './metricRecords.ts';
import { discoverMetricTopics, topicOffsetsSince, topicWatermarks } from './metricTopics.ts';
import { ReplayTails } from './replayTails.ts';
import { tailMetricTopics } from './tailConsumer.ts';

/** Options of `createMetricsLog`. */
export interface MetricsLogOptions {
  kafka: KafkaClient;
  serde: AvroSerde;
  /** Which topics are metric topics (default: `metrics.` followed by a name). */
  topicPattern?: RegExp;
  /** Results whose window ended longer ago than this are evicted, and a fresh log starts reading this far back. */
  retentionMs?: number;
  /** At most this many (metric, key) results in memory; the oldest windows go first. */
  maxEntries?: number;
  /** Recent updates kept per partition for resuming clients without a Kafka read. */
  replayBufferPerPartition?: number;
  /** How often the topic list is refreshed. */
  topicRefreshMs?: number;
  groupIdPrefix?: string;
  now?: () => number;
}

/** The feed's view of every metric topic (see `createMetricsLog`). */
export interface MetricsLog {
  /** Resolves once the log has read every partition up to its end offset at start-up. */
  ready: Promise<void>;
  isReady(): boolean;
  /** Next offset to process, per partition of the metric's topic (`<topic>/<partition>` keys). */
  positions(metric: string): Map<string, number>;
  /** Latest result per key of a metric, oldest window first. */
  snapshot(metric: string): LoggedUpdate[];
  /** The updates of `tp` in [from, to) from memory, or undefined when memory no longer holds `from`. */
  fromMemory(tp: string, from: number, to: number): LoggedUpdate[] | undefined;
  /** Called synchronously for each update, in offset order per partition. */
  onUpdate(listener: (u: LoggedUpdate) => void): () => void;
  /**
   * Awaited after each fetched batch is applied, before the next: how the readers of the updates
   * (the feed's clients) slow the log down instead of buffering without bound.
   */
  paceWith(pace: () => Promise<void>): void;
  /** Called with the start positions of partitions that appeared after start-up (new topics or partitions). */
  onNewPartitions(listener: (metric: string, positions: Map<string, number>) => void): () => void;
  watermarks(topic: string): Promise<Map<number, { low: number; high: number }>>;
  stats(): { topics: number; partitions: number; entries: number };
  close(): Promise<void>;
}

const log = createLogger('feed');

// `metrics.late` is the metrics topology's late-record topic (`<topology>.late`), not a metric;
// `sluice.quality` holds the runners' per-minute quality counts, served as the metric `quality`.
const METRIC_TOPIC_PATTERN = /^metrics\.(?!late$)[A-Za-z0-9_-]+$|^sluice\.quality$/;
const SWEEP_INTERVAL_MS = 30_000;

/**
 * The feed's view of every `metrics.*` topic, whichever runner wrote it: one consumer in a
 * throwaway group (never committing) reads all their partitions from `now - retention`, keeps the
 * latest result per (metric, key) for snapshots, a bounded tail of recent updates per partition
 * for resuming clients without going back to Kafka, and the next offset per partition, which is
 * what cursors are made of. New topics and partitions are picked up by a periodic refresh.
 *
 * Everything that changes state and everything that reads it for one client runs in one
 * synchronous step per record, so a snapshot and the position it was taken at always agree.
 *
 * @example
 *   const log = createMetricsLog({ kafka, serde });
 *   await log.ready;
 *   log.snapshot('revenue_per_minute'); // latest result per key
 */
export function createMetricsLog(opts: MetricsLogOptions): MetricsLog {
  const metricsLog = new TopicsLog(opts);
  metricsLog.start();
  return metricsLog;
}

class TopicsLog implements MetricsLog {
  readonly ready: Promise<void>;
  readonly #kafka: KafkaClient;
  readonly #serde: AvroSerde;
  readonly #topicPattern: RegExp;
  readonly #retentionMs: number;
  readonly #topicRefreshMs: number;
  readonly #now: () => number;
  readonly #groupId: string;
  readonly #admin: Admin;
  readonly #results: LatestResults;
  readonly #tails: ReplayTails;
  /** Next offset to process per `<topic>/<partition>`. */
  readonly #next = new Map<string, number>();
  readonly #listeners = new Set<(u: LoggedUpdate) => void>();
  readonly #partitionListeners = new Set<(metric: string, positions: Map<string, number>) => void>();
  readonly #closing = new AbortController();
  #pace: () => Promise<void> = () => Promise.resolve();
  /** topic → partition count, as last subscribed. */
  #topics = new Map<string, number>();
  #consumer: Consumer | undefined;
  #generation = 0;
  #closed = false;
  /** Set while the consumer does not match `#topics` (a rebuild failed or is under way). */
  #stale = true;
  #refreshing: Promise<void> = Promise.resolve();
  #refreshTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  /** End offsets at start-up, until every partition has been read up to them. */
  #readyTargets: Map<string, number> | undefined;
  #caughtUp = false;
  #markReady: () => void = () => {};

  constructor(opts: MetricsLogOptions) {
    this.#kafka = opts.kafka;
    this.#serde = opts.serde;
    this.#topicPattern = opts.topicPattern ?? METRIC_TOPIC_PATTERN;
    this.#retentionMs = opts.retentionMs ?? 2 * 60 * 60 * 1000;
    this.#topicRefreshMs = opts.topicRefreshMs ?? 5_000;
    this.#now = opts.now ?? Date.now;
    this.#groupId = `${opts.groupIdPrefix ?? 'sluice-feed'}-${randomBytes(6).toString('hex')}`;
    this.#admin = this.#kafka.admin();
    this.#results = new LatestResults({
      retentionMs: this.#retentionMs,
      maxEntries: opts.maxEntries ?? 100_000,
      now: this.#now,
    });
    this.#tails = new ReplayTails(opts.replayBufferPerPartition ?? 5_000);
    this.ready = new Promise<void>((resolve) => {
      this.#markReady = resolve;
    });
  }

  /** Starts reading (retried until it succeeds or the log is closed), then refreshes and sweeps periodically. */
  start(): void {
    this.#refreshing = this.#connect().then(() => {
      if (this.#closed) return;
      this.#refreshTimer = setInterval(() => {
        void this.#scheduleRefresh();
      }, this.#topicRefreshMs);
      this.#refreshTimer.unref();
    });
    this.#sweepTimer = setInterval(() => this.#results.sweep(), SWEEP_INTERVAL_MS);
    this.#sweepTimer.unref();
  }

  isReady(): boolean {
    return this.#caughtUp;
  }

  positions(metric: string): Map<string, number> {
    const topic = topicOfMetric(metric);
    const out = new Map<string, number>();
    const count = this.#topics.get(topic) ?? 0;
    for (let p = 0; p < count; p++) {
      const tp = tpKey(topic, p);
      const pos = this.#next.get(tp);
      if (pos !== undefined) out.set(tp, pos);
    }
    return out;
  }

  snapshot(metric: string): LoggedUpdate[] {
    return this.#results.snapshot(metric);
  }

  fromMemory(tp: string, from: number, to: number): LoggedUpdate[] | undefined {
    return this.#tails.read(tp, from, to);
  }

  onUpdate(listener: (u: LoggedUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  paceWith(pace: () => Promise<void>): void {
    this.#pace = pace;
  }

  onNewPartitions(listener: (metric: string, positions: Map<string, number>) => void): () => void {
    this.#partitionListeners.add(listener);
    return () => this.#partitionListeners.delete(listener);
  }

  watermarks(topic: string): Promise<Map<number, { low: number; high: number }>> {
    return topicWatermarks(this.#admin, topic);
  }

  stats() {
    return { topics: this.#topics.size, partitions: this.#next.size, entries: this.#results.size };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#generation++;
    this.#closing.abort();
    clearInterval(this.#refreshTimer);
    clearInterval(this.#sweepTimer);
    await this.#refreshing.catch(() => {});
    const c = this.#consumer;
    this.#consumer = undefined;
    await c?.disconnect().catch(() => {});
    await this.#admin.disconnect().catch(() => {});
    this.#listeners.clear();
    this.#partitionListeners.clear();
  }

  /** The first read of the topic list and offsets: retried until it works, or until close. */
  async #connect(): Promise<void> {
    await withRetry(() => this.#readTopicsAtStart(), {
      retries: Infinity,
      initialMs: 500,
      maxMs: 10_000,
      retriable: () => !this.#closed,
      signal: this.#closing.signal,
      onRetry: (err, attempt) =>
        log.warn(
          { code: errorCode('KAFKA_CONNECT_FAILED'), attempt, err: String((err as Error).message) },
          'live feed cannot read the metric topics yet; retrying',
        ),
    }).catch((err) => {
      if (!this.#closed) throw err;
    });
  }

  async #readTopicsAtStart(): Promise<void> {
    await this.#admin.connect();
    const found = await discoverMetricTopics(this.#admin, this.#topicPattern);
    const targets = new Map<string, number>();
    await this.#initPositions(found, targets);
    this.#topics = found;
    this.#readyTargets = targets;
    await this.#rebuild();
    this.#checkReady();
  }

  #checkReady(): void {
    if (this.#caughtUp || !this.#readyTargets) return;
    for (const [tp, target] of this.#readyTargets) if ((this.#next.get(tp) ?? 0) < target) return;
    this.#caughtUp = true;
    this.#readyTargets = undefined;
    log.info(this.stats(), 'live feed caught up with the metric topics');
    this.#markReady();
  }

  #advance(tp: string, next: number): void {
    if (next > (this.#next.get(tp) ?? 0)) this.#next.set(tp, next);
  }

  /**
   * Start offsets for partitions the log has no position for: the first record of the retention.
   * With `targets`, also records every partition's end offset there (what "caught up" means).
   */
  async #initPositions(found: Map<string, number>, targets?: Map<string, number>): Promise<void> {
    const since = this.#now() - this.#retentionMs;
    for (const [topic, count] of found) {
      const known = Array.from({ length: count }, (_, p) => this.#next.has(tpKey(topic, p)));
      if (known.every(Boolean) && !targets) continue;
      const { starts, ends } = await topicOffsetsSince(this.#admin, topic, since);
      for (const [partition, offset] of starts) {
        const tp = tpKey(topic, partition);
        if (this.#next.has(tp)) continue;
        this.#next.set(tp, offset);
        this.#tails.start(tp, offset);
      }
      if (targets) for (const [partition, high] of ends) targets.set(tpKey(topic, partition), high);
    }
  }

  #dropTopic(topic: string): void {
    for (const tp of [...this.#next.keys()])
      if (parseTpKey(tp).topic === topic) {
        this.#next.delete(tp);
        this.#tails.drop(tp);
      }
    const metric = metricOfTopic(topic);
    if (metric) this.#results.dropMetric(metric);
  }

  /** Every record of a batch, in offset order: positions, memory, then the listeners. */
  #applyBatch(batch: EachBatchPayload['batch']): void {
    const tp = tpKey(batch.topic, batch.partition);
    for (const m of batch.messages) {
      const offset = Number(m.offset);
      const pos = this.#next.get(tp);
      if (pos !== undefined && offset < pos) continue;
      const u = recordToUpdate(this.#serde, batch.topic, batch.partition, m);
      this.#next.set(tp, offset + 1);
      if (u) {
        this.#tails.push(u);
        this.#results.record(u);
        for (const l of this.#listeners) l(u);
      } else if (m.value === null && m.key) {
        const metric = metricOfTopic(batch.topic);
        if (metric) this.#results.forget(metric, m.key.toString('utf8'));
      }
    }
  }

  /** A new consumer for the current topic set, every partition sought to its position. */
  async #rebuild(): Promise<void> {
    const gen = ++this.#generation;
    this.#stale = true;
    const old = this.#consumer;
    this.#consumer = undefined;
    if (old) await old.disconnect().catch((err) => log.warn({ err: String(err) }, 'feed consumer disconnect failed'));
    if (this.#closed) return;
    if (!this.#topics.size) {
      this.#stale = false;
      return;
    }
    const isCurrent = () => gen === this.#generation && !this.#closed;
    this.#consumer = feedConsumer(this.#kafka, this.#groupId);
    await tailMetricTopics(this.#consumer, this.#topics, {
      isCurrent,
      positionOf: (tp) => this.#next.get(tp),
      prepare: (messages) => prepareBatch(this.#serde, messages, isCurrent),
      apply: (batch) => this.#applyBatch(batch),
      pace: () => this.#pace(),
      passed: (tp, next) => {
        this.#advance(tp, next);
        this.#checkReady();
      },
      crashed: (error) => this.#rebuildAfterCrash(gen, error),
    });
    if (gen === this.#generation) this.#stale = false;
  }

  #rebuildAfterCrash(gen: number, error: Error): void {
    log.warn(
      { code: errorCode('KAFKA_CONSUMER_CRASHED'), err: error.message },
      'live feed consumer crashed; rebuilding it',
    );
    setTimeout(() => {
      if (gen === this.#generation) void this.#scheduleRefresh(true);
    }, 1_000).unref();
  }

  /** Follows the topic list: drops deleted topics, starts new partitions, rebuilds the consumer. */
  async #refresh(force: boolean): Promise<void> {
    if (this.#closed) return;
    const found = await discoverMetricTopics(this.#admin, this.#topicPattern);
    const same = found.size === this.#topics.size && [...found].every(([t, n]) => this.#topics.get(t) === n);
    if (same && !force && !this.#stale) return;
    for (const t of this.#topics.keys()) if (!found.has(t)) this.#dropTopic(t);
    const before = new Set(this.#next.keys());
    await this.#initPositions(found);
    this.#topics = found;
    this.#announceNewPartitions(before);
    log.info({ topics: [...found.keys()] }, 'live feed topics');
    await this.#rebuild();
  }

  /** Tells the partition listeners, per metric, about positions not in `before`. */
  #announceNewPartitions(before: Set<string>): void {
    const added = new Map<string, Map<string, number>>();
    for (const [tp, pos] of this.#next) {
      if (before.has(tp)) continue;
      const metric = metricOfTopic(parseTpKey(tp).topic);
      if (!metric) continue;
      if (!added.has(metric)) added.set(metric, new Map());
      added.get(metric)!.set(tp, pos);
    }
    for (const [metric, starts] of added) for (const l of this.#partitionListeners) l(metric, starts);
  }

  #scheduleRefresh(force = false): Promise<void> {
    this.#refreshing = this.#refreshing
      .then(() => this.#refresh(force))
      .catch((err) => {
        log.warn(
          { code: errorCode('KAFKA_CONNECT_FAILED'), err: String((err as Error).message) },
          'live feed topic refresh failed; retrying',
        );
      });
    return this.#refreshing;
  }
}
