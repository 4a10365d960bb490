import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createLogger } from '../core/log.ts';
import { retryKafka } from '../kafka/retryKafka.ts';
import type { Admin, Consumer } from '../kafka/kafkaTypes.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { parseTpKey, tpKey } from './feedCursor.ts';
import { metricOfTopic, topicOfMetric, type LoggedUpdate } from './feedUpdate.ts';
import { feedConsumer, prepareBatch, recordToUpdate } from './metricRecords.ts';

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
  /** Called with the start positions of partitions that appeared after start-up (new topics or partitions). */
  onNewPartitions(listener: (metric: string, positions: Map<string, number>) => void): () => void;
  watermarks(topic: string): Promise<Map<number, { low: number; high: number }>>;
  stats(): { topics: number; partitions: number; entries: number };
  close(): Promise<void>;
}

const log = createLogger('feed');

/** A partition's recent updates; every record at or after `from` is in `items`. */
interface Tail {
  from: number;
  items: LoggedUpdate[];
}

export function createMetricsLog(opts: MetricsLogOptions): MetricsLog {
  const {
    kafka,
    serde, // `metrics.late` is the metrics topology's late-record topic (`<topology>.late`), not a metric.
    topicPattern = /^metrics\.(?!late$)[A-Za-z0-9_-]+$/,
    retentionMs = 2 * 60 * 60 * 1000,
    maxEntries = 100_000,
    replayBufferPerPartition = 5_000,
    topicRefreshMs = 5_000,
    groupIdPrefix = 'sluice-feed',
    now = Date.now,
  } = opts;
  const groupId = `${groupIdPrefix}-${randomBytes(6).toString('hex')}`;
  const admin: Admin = kafka.admin();
  const state = new Map<string, Map<string, LoggedUpdate>>();
  let entries = 0;
  const positions = new Map<string, number>();
  const tails = new Map<string, Tail>();
  const listeners = new Set<(u: LoggedUpdate) => void>();
  const partitionListeners = new Set<(metric: string, positions: Map<string, number>) => void>();
  /** topic → partition count, as last subscribed. */
  let topics = new Map<string, number>();
  let consumer: Consumer | undefined;
  let generation = 0;
  let closed = false;
  /** Set while the consumer does not match `topics` (a rebuild failed or is under way). */
  let stale = true;
  let refreshing: Promise<void> = Promise.resolve();
  let refreshTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let readyTargets: Map<string, number> | undefined;
  let isReady = false;
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });

  function checkReady(): void {
    if (isReady || !readyTargets) return;
    for (const [tp, target] of readyTargets) if ((positions.get(tp) ?? 0) < target) return;
    isReady = true;
    readyTargets = undefined;
    log.info(
      { topics: topics.size, partitions: positions.size, entries },
      'live feed caught up with the metric topics',
    );
    markReady();
  }

  function advance(tp: string, next: number): void {
    if (next > (positions.get(tp) ?? 0)) positions.set(tp, next);
  }

  function evict(targetEntries: number, olderThan: number): void {
    const all: LoggedUpdate[] = [];
    for (const byKey of state.values()) for (const u of byKey.values()) all.push(u);
    all.sort((a, b) => a.windowEnd - b.windowEnd);
    for (const u of all) {
      if (entries <= targetEntries && u.windowEnd >= olderThan) break;
      const byKey = state.get(u.metric)!;
      byKey.delete(u.key);
      if (!byKey.size) state.delete(u.metric);
      entries--;
    }
  }

  function remember(u: LoggedUpdate): void {
    let tail = tails.get(u.tp);
    if (!tail) {
      tail = { from: u.offset, items: [] };
      tails.set(u.tp, tail);
    }
    tail.items.push(u);
    // Trim in halves so that a push stays O(1) amortised.
    if (tail.items.length >= replayBufferPerPartition * 2) {
      const dropped = tail.items.splice(0, tail.items.length - replayBufferPerPartition);
      tail.from = dropped[dropped.length - 1].offset + 1;
    }
    if (u.windowEnd >= now() - retentionMs) {
      let byKey = state.get(u.metric);
      if (!byKey) {
        byKey = new Map();
        state.set(u.metric, byKey);
      }
      if (!byKey.delete(u.key)) entries++;
      byKey.set(u.key, u);
      if (entries > maxEntries) evict(Math.floor(maxEntries * 0.9), -Infinity);
    }
  }

  function forget(key: string, metric: string): void {
    const byKey = state.get(metric);
    if (byKey?.delete(key)) entries--;
  }

  /** Metric topics now, with their partition counts. */
  async function discover(): Promise<Map<string, number>> {
    const names = (await admin.listTopics()).filter((t) => topicPattern.test(t)).sort();
    if (!names.length) return new Map();
    const meta = await retryKafka(() => admin.fetchTopicMetadata({ topics: names }), "metric topics' metadata");
    return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  }

  /** Start offsets for partitions the log has no position for: the first record of the retention. */
  async function initPositions(found: Map<string, number>, targets?: Map<string, number>): Promise<void> {
    const since = now() - retentionMs;
    for (const [topic, count] of found) {
      const known = Array.from({ length: count }, (_, p) => positions.has(tpKey(topic, p)));
      if (known.every(Boolean) && !targets) continue;
      const [starts, ends] = await retryKafka(
        () => Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, since), admin.fetchTopicOffsets(topic)]),
        `offsets of ${topic}`,
      );
      for (const s of starts) {
        const tp = tpKey(topic, s.partition);
        if (!positions.has(tp)) {
          positions.set(tp, Number(s.offset));
          tails.set(tp, { from: Number(s.offset), items: [] });
        }
      }
      if (targets) for (const e of ends) targets.set(tpKey(topic, e.partition), Number(e.high));
    }
  }

  function dropTopic(topic: string): void {
    const metric = metricOfTopic(topic);
    for (const tp of [...positions.keys()])
      if (parseTpKey(tp).topic === topic) {
        positions.delete(tp);
        tails.delete(tp);
      }
    if (metric) {
      entries -= state.get(metric)?.size ?? 0;
      state.delete(metric);
    }
  }

  /** A new consumer for the current topic set, every partition sought to its position. */
  async function rebuild(): Promise<void> {
    const gen = ++generation;
    stale = true;
    const old = consumer;
    consumer = undefined;
    if (old) await old.disconnect().catch((err) => log.warn({ err: String(err) }, 'feed consumer disconnect failed'));
    if (closed) return;
    if (!topics.size) {
      stale = false;
      return;
    }
    const c = feedConsumer(kafka, groupId);
    consumer = c;
    const seekAll = (assignment: Record<string, number[]>) => {
      for (const [topic, parts] of Object.entries(assignment)) {
        for (const p of parts) {
          const pos = positions.get(tpKey(topic, p));
          if (pos !== undefined) c.seek({ topic, partition: p, offset: String(pos) });
        }
      }
    };
    c.on(c.events.GROUP_JOIN, ({ payload }) => {
      if (gen === generation) seekAll(payload.memberAssignment);
    });
    // Batches of nothing but transaction markers never reach eachBatch; the position moves past them here.
    c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
      if (gen !== generation) return;
      advance(tpKey(payload.topic, payload.partition), Number(payload.lastOffset) + 1);
      checkReady();
    });
    c.on(c.events.CRASH, ({ payload }) => {
      if (gen !== generation || closed) return;
      log.warn(
        { code: 'SLUICE_ERR_KAFKA_CONSUMER_CRASHED', err: payload.error.message },
        'live feed consumer crashed; rebuilding it',
      );
      setTimeout(() => {
        if (gen === generation) void scheduleRefresh(true);
      }, 1_000).unref();
    });
    await c.connect();
    // fromBeginning only matters for a partition with no position yet (created since the last
    // refresh): its first records must not be skipped.
    await c.subscribe({ topics: [...topics.keys()], fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        if (gen !== generation) return;
        const tp = tpKey(batch.topic, batch.partition);
        await prepareBatch(serde, batch.messages, () => gen === generation && !closed);
        if (gen !== generation) return;
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          const pos = positions.get(tp);
          if (pos !== undefined && offset < pos) continue;
          const u = recordToUpdate(serde, batch.topic, batch.partition, m);
          positions.set(tp, offset + 1);
          if (u) {
            remember(u);
            for (const l of listeners) l(u);
          } else if (m.value === null && m.key) {
            const metric = metricOfTopic(batch.topic);
            if (metric) forget(m.key.toString('utf8'), metric);
          }
        }
        // Let sockets drain and other work run between batches: without a real turn of the event
        // loop a large fetch would be pushed to every client in one uninterrupted burst.
        await yieldToEventLoop();
        await heartbeat();
      },
    });
    seekAll(Object.fromEntries([...topics].map(([t, n]) => [t, Array.from({ length: n }, (_, p) => p)])));
    if (gen === generation) stale = false;
  }

  async function refresh(force: boolean): Promise<void> {
    if (closed) return;
    const found = await discover();
    const same = found.size === topics.size && [...found].every(([t, n]) => topics.get(t) === n);
    if (same && !force && !stale) return;
    for (const t of topics.keys()) if (!found.has(t)) dropTopic(t);
    const before = new Set(positions.keys());
    await initPositions(found);
    topics = found;
    const added = new Map<string, Map<string, number>>();
    for (const [tp, pos] of positions) {
      if (before.has(tp)) continue;
      const metric = metricOfTopic(parseTpKey(tp).topic);
      if (!metric) continue;
      if (!added.has(metric)) added.set(metric, new Map());
      added.get(metric)!.set(tp, pos);
    }
    for (const [metric, added1] of added) for (const l of partitionListeners) l(metric, added1);
    log.info({ topics: [...found.keys()] }, 'live feed topics');
    await rebuild();
  }

  function scheduleRefresh(force = false): Promise<void> {
    refreshing = refreshing
      .then(() => refresh(force))
      .catch((err) => {
        log.warn(
          { code: 'SLUICE_ERR_KAFKA_CONNECT_FAILED', err: String((err as Error).message) },
          'live feed topic refresh failed; retrying',
        );
      });
    return refreshing;
  }

  async function start(): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      try {
        await admin.connect();
        const found = await discover();
        const targets = new Map<string, number>();
        await initPositions(found, targets);
        topics = found;
        readyTargets = targets;
        await rebuild();
        checkReady();
        return;
      } catch (err) {
        log.warn(
          { code: 'SLUICE_ERR_KAFKA_CONNECT_FAILED', attempt, err: String((err as Error).message) },
          'live feed cannot read the metric topics yet; retrying',
        );
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  refreshing = start().then(() => {
    if (closed) return;
    refreshTimer = setInterval(() => {
      void scheduleRefresh();
    }, topicRefreshMs);
    refreshTimer.unref();
  });
  sweepTimer = setInterval(() => evict(maxEntries, now() - retentionMs), 30_000);
  sweepTimer.unref();

  return {
    ready,
    isReady: () => isReady,
    positions(metric) {
      const topic = topicOfMetric(metric);
      const out = new Map<string, number>();
      const count = topics.get(topic) ?? 0;
      for (let p = 0; p < count; p++) {
        const tp = tpKey(topic, p);
        const pos = positions.get(tp);
        if (pos !== undefined) out.set(tp, pos);
      }
      return out;
    },
    snapshot(metric) {
      return [...(state.get(metric)?.values() ?? [])].sort((a, b) => a.windowEnd - b.windowEnd);
    },
    fromMemory(tp, from, to) {
      const tail = tails.get(tp);
      if (!tail || from < tail.from) return undefined;
      const items = tail.items;
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (items[mid].offset < from) lo = mid + 1;
        else hi = mid;
      }
      const out: LoggedUpdate[] = [];
      for (let i = lo; i < items.length && items[i].offset < to; i++) out.push(items[i]);
      return out;
    },
    onUpdate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onNewPartitions(listener) {
      partitionListeners.add(listener);
      return () => partitionListeners.delete(listener);
    },
    async watermarks(topic) {
      const offsets = await retryKafka(() => admin.fetchTopicOffsets(topic), `end offsets of ${topic}`);
      return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
    },
    stats: () => ({ topics: topics.size, partitions: positions.size, entries }),
    async close() {
      closed = true;
      generation++;
      clearInterval(refreshTimer);
      clearInterval(sweepTimer);
      await refreshing.catch(() => {});
      const c = consumer;
      consumer = undefined;
      await c?.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
      listeners.clear();
      partitionListeners.clear();
    },
  };
}
