import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type client from 'prom-client';
import type { Config } from '../config/config.ts';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { KafkaClient } from '../kafka/createKafkaClient.ts';
import { ensureTopics } from '../kafka/ensureTopics.ts';
import type { Producer } from '../kafka/kafkaTypes.ts';
import { expectationId, type QualityCounters } from './qualityCounts.ts';
import { encodeQualityMinute, minuteOf, QualityLedger, type QualityMinute, qualityRecordKey } from './qualityLedger.ts';
import { createQualityMetrics } from './qualityMetrics.ts';
import { MINUTE_MS } from './qualityThresholds.ts';

const log = createLogger('quality');

/** Two days: the longest window (a day) plus room for a reader that starts late. */
export const QUALITY_TOPIC_RETENTION_MS = 2 * 24 * 60 * MINUTE_MS;
/** Records kept for a later attempt while the topic cannot be written (the oldest go first). */
const MAX_UNSENT = 10_000;
/** How long stop() waits for the last publication. */
const STOP_WAIT_MS = 5_000;

export interface QualityPublisherOptions {
  kafka: KafkaClient;
  counters: QualityCounters;
  /** The runner's Prometheus registry: the quality metrics join it. */
  registry: client.Registry;
  /** Default SLUICE_QUALITY_PUBLISH_INTERVAL_MS. */
  intervalMs?: number;
  now?: () => number;
  /** Default `<host>-<pid>-<random>`. */
  runnerId?: string;
  /** Called after each publication with what was sent (tests wait on it). */
  onPublished?: (records: QualityMinute[]) => void;
}

export interface QualityPublisher {
  readonly runnerId: string;
  /** Publishes what was counted so far (the open minute, final) and stops. */
  stop(): Promise<void>;
}

/**
 * Inside `sluice run`: every interval (aligned to the clock, so a minute's last publication
 * happens at its end) reads the process's quality counters, adds what changed to the current
 * minute, and publishes that minute's counts per expectation to SLUICE_QUALITY_TOPIC (created at
 * start with two days of retention): the open minute as it grows, then once more as final. It
 * keeps this runner's windows for `sluice_quality_pass_ratio`. A failed publication is logged
 * (SLUICE_ERR_QUALITY_PUBLISH_FAILED) and retried at the next interval; it never stops the runner.
 *
 * @example
 *   const quality = startQualityPublisher(cfg, { kafka, counters: metrics.quality, registry: metrics.registry });
 *   // on shutdown, after the topologies have stopped:
 *   await quality.stop();
 */
export function startQualityPublisher(cfg: Config, opts: QualityPublisherOptions): QualityPublisher {
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? cfg.qualityPublishIntervalMs;
  const runnerId = opts.runnerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const metrics = createQualityMetrics(opts.registry, () => opts.counters.totals());
  const ledger = new QualityLedger();
  const minute = new MinuteCounts(runnerId);
  const unsent = new Map<string, QualityMinute>();
  let producer: Producer | undefined;
  let topicReady = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;

  const send = async (records: QualityMinute[]) => {
    for (const r of records) unsent.set(qualityRecordKey(r), r);
    while (unsent.size > MAX_UNSENT) unsent.delete(unsent.keys().next().value as string);
    if (!unsent.size) return;
    try {
      if (!topicReady) await ensureQualityTopic(cfg, opts.kafka);
      topicReady = true;
      if (!producer) {
        producer = opts.kafka.producer();
        await producer.connect();
      }
      const batch = [...unsent.values()];
      await producer.send({
        topic: cfg.qualityTopic,
        messages: batch.map((r) => ({
          key: qualityRecordKey(r),
          value: encodeQualityMinute(r),
          timestamp: String(r.emitted_at),
        })),
      });
      for (const r of batch) if (unsent.get(qualityRecordKey(r)) === r) unsent.delete(qualityRecordKey(r));
      opts.onPublished?.(batch);
    } catch (err) {
      const fields = { code: errorCode('QUALITY_PUBLISH_FAILED'), topic: cfg.qualityTopic, records: unsent.size };
      log.warn({ ...fields, err: String((err as Error).message) }, 'quality counts not published; retrying');
    }
  };

  /** One publication for the interval ending at `plannedAt` (`closing`: the minute ends there, or stop). */
  const publish = async (plannedAt: number, closing: boolean) => {
    const records = minute.advance(opts.counters.totals(), minuteOf(plannedAt - 1), plannedAt, closing);
    for (const r of records) ledger.add(r);
    ledger.prune(now());
    metrics.update(ledger.windows(now()));
    await send(records);
  };

  const plan = () => {
    if (stopped || intervalMs <= 0) return;
    const at = (Math.floor(now() / intervalMs) + 1) * intervalMs;
    timer = setTimeout(() => {
      current = publish(at, at % MINUTE_MS === 0).finally(() => {
        current = undefined;
        plan();
      });
    }, at - now());
  };
  plan();

  return {
    runnerId,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await current;
      if (intervalMs > 0) {
        const last = publish(now() + 1, true);
        await Promise.race([last, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
      }
      await producer?.disconnect().catch(() => {});
    },
  };
}

/** Creates SLUICE_QUALITY_TOPIC if it is missing (delete policy, two days of retention). */
export async function ensureQualityTopic(cfg: Config, kafka: KafkaClient): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const spec = { topic: cfg.qualityTopic, config: { 'retention.ms': String(QUALITY_TOPIC_RETENTION_MS) } };
    await ensureTopics(admin, [spec], { partitions: cfg.topicPartitions, replicationFactor: cfg.topicReplication });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * This runner's counts of the open minute: cumulative totals in, the minute's records out. Pure
 * bookkeeping (no clock, no I/O), so the minute arithmetic is unit-tested on its own.
 */
export class MinuteCounts {
  readonly #runner: string;
  /** Totals at the last call, per expectation. */
  readonly #seen = new Map<string, { checked: number; failed: number }>();
  #start: number | undefined;
  readonly #counts = new Map<string, QualityMinute>();

  constructor(runner: string) {
    this.#runner = runner;
  }

  /**
   * Adds what the totals gained since the last call to the minute starting at `start` and returns
   * the records to publish: those that changed, or — `closing` — every record of the minute, final.
   * A call for a later minute closes the open one first (a late timer).
   */
  advance(
    totals: readonly { topology: string; topic: string; rule: string; checked: number; failed: number }[],
    start: number,
    at: number,
    closing: boolean,
  ): QualityMinute[] {
    const out: QualityMinute[] = [];
    if (this.#start !== undefined && this.#start !== start) out.push(...this.#close(at));
    this.#start = start;
    const changed = new Set<string>();
    for (const t of totals) {
      const id = expectationId(t);
      const before = this.#seen.get(id) ?? { checked: 0, failed: 0 };
      this.#seen.set(id, { checked: t.checked, failed: t.failed });
      const checked = t.checked - before.checked;
      if (checked <= 0) continue;
      const failed = t.failed - before.failed;
      const m = this.#counts.get(id) ?? this.#empty(t, start);
      m.checked += checked;
      m.failed += failed;
      m.passed = m.checked - m.failed;
      this.#counts.set(id, m);
      changed.add(id);
    }
    if (closing) out.push(...this.#close(at));
    else for (const id of changed) out.push({ ...(this.#counts.get(id) as QualityMinute), emitted_at: at });
    return out;
  }

  #close(at: number): QualityMinute[] {
    const out = [...this.#counts.values()].map((m) => ({ ...m, final: true, emitted_at: at }));
    this.#counts.clear();
    this.#start = undefined;
    return out;
  }

  #empty(t: { topology: string; topic: string; rule: string }, start: number): QualityMinute {
    return {
      window_start: start,
      window_end: start + MINUTE_MS,
      topology: t.topology,
      topic: t.topic,
      rule: t.rule,
      checked: 0,
      passed: 0,
      failed: 0,
      runner: this.#runner,
      final: false,
      emitted_at: 0,
    };
  }
}
