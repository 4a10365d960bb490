import type { Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { ensureTopics } from '../kafka/ensureTopics.ts';
import type { Admin, Producer } from '../kafka/kafkaTypes.ts';
import { createAvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import { TokenBucket } from '../core/pacing.ts';
import { readTopicRange } from './readTopicRange.ts';
import { DryRunValidator } from './replay/dryRunValidator.ts';
import {
  checkReplayOptions,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TRACKING_TOPIC,
  type ReplayOptions,
} from './replay/replayOptions.ts';
import { emptyReport, emptySummary, type DryRunReport, type ReplaySummary } from './replay/replayResult.ts';
import { ReplayRun } from './replay/replayRun.ts';
import { ReplayTopics } from './replay/replayTopics.ts';
import { ReplayTracking } from './replay/replayTracking.ts';
import { ReplayWriter, type ReplayTopicNames } from './replay/replayWriter.ts';

/**
 * `sluice replay-dlq`: re-publishes dead-letter records to the topic they came from (or `to`),
 * ORIGINAL key and value bytes, once the cause is fixed.
 *
 * - Snapshot: the DLQ is read from its start to the end offsets it had when the replay began, so
 *   records that fail again during the replay come back to the DLQ without being read again.
 * - Idempotent: every replayed (or parked) record is recorded in a compacted tracking topic,
 *   keyed by the DLQ, its original coordinates and its replay count, after the broker
 *   acknowledged the replayed record. A rerun skips what is tracked, so an interrupted replay
 *   continues where it stopped and a finished one replays nothing (at-least-once: a crash between
 *   the replay and its tracking record replays that record again).
 * - Bounded: a record that already went round `maxAttempts` times is parked in
 *   `<dlq>.parked` (same bytes and headers) instead of being replayed: never looped.
 * - Dry run: each matched record goes through today's topology (schemas, rules, reference
 *   tables) in memory, and the outcomes are counted; nothing is written.
 *
 * The parts live in `./replay/`: options, DLQ headers, filters, tracking, validator, writer, run.
 */

const log = createLogger('replay');

/**
 * Checks the DLQ exists and counts its records; a real run also creates the tracking topic.
 * Returns the topics known to exist.
 */
async function prepareTopics(
  cfg: Config,
  admin: Admin,
  names: ReplayTopicNames,
  dryRun: boolean,
): Promise<{ topics: ReplayTopics; total: number }> {
  const topics = new ReplayTopics(admin, await admin.listTopics());
  if (!topics.has(names.dlqTopic))
    throw new SluiceError(
      'CLI_USAGE',
      `DLQ topic ${names.dlqTopic} does not exist (\`sluice topics\` lists the topics)`,
    );
  const offsets = await admin.fetchTopicOffsets(names.dlqTopic);
  const total = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (!dryRun) {
    await ensureTopics(admin, [{ topic: names.trackingTopic, compacted: true }], {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplication,
    });
    topics.add(names.trackingTopic);
  }
  return { topics, total };
}

/** Hands a snapshot of the counts to `onProgress` every interval (and lets the process exit meanwhile). */
function startProgressTimer(opts: ReplayOptions, result: object, total: number, started: number) {
  const onProgress = opts.onProgress;
  if (!onProgress) return undefined;
  const timer = setInterval(
    () => onProgress({ ...structuredClone(result as ReplaySummary), total, elapsedMs: Date.now() - started }),
    opts.progressIntervalMs ?? 1000,
  );
  timer.unref();
  return timer;
}

/**
 * Replays (or, with `dryRun`, evaluates) the matching records of a DLQ; see the module comment.
 *
 * @example
 *   const report = await replayDlq(cfg, { from: 'oltp.customers.dlq', reason: 'rule', dryRun: true });
 *   const summary = await replayDlq(cfg, { from: 'oltp.customers.dlq', reason: 'rule', rate: 500 });
 */
export function replayDlq(cfg: Config, opts: ReplayOptions & { dryRun: true }): Promise<DryRunReport>;
export function replayDlq(cfg: Config, opts: ReplayOptions & { dryRun?: false }): Promise<ReplaySummary>;
export function replayDlq(cfg: Config, opts: ReplayOptions): Promise<ReplaySummary | DryRunReport>;
export async function replayDlq(cfg: Config, opts: ReplayOptions): Promise<ReplaySummary | DryRunReport> {
  checkReplayOptions(opts);
  const dlqTopic = opts.from;
  const names = {
    dlqTopic,
    parkedTopic: `${dlqTopic}.parked`,
    trackingTopic: opts.trackingTopic ?? DEFAULT_TRACKING_TOPIC,
  };
  const dryRun = Boolean(opts.dryRun);
  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-replay`);
  const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  const admin = kafka.admin();
  await admin.connect();
  let producer: Producer | undefined;
  let validator: DryRunValidator | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const result = dryRun ? emptyReport(dlqTopic) : emptySummary(dlqTopic);
  try {
    const { topics, total } = await prepareTopics(cfg, admin, names, dryRun);
    const tracking = await ReplayTracking.load(kafka, names.trackingTopic, dlqTopic, topics.has(names.trackingTopic));
    log.info({ dlqTopic, records: total, tracked: tracking.size, dryRun }, 'replay starting');
    if (dryRun) validator = new DryRunValidator({ cfg, kafka, serde }, opts.topologies ?? {});
    else {
      producer = kafka.producer();
      await producer.connect();
    }
    const writer = producer && new ReplayWriter({ cfg, admin, producer, topics }, names, result as ReplaySummary);
    const bucket = opts.rate === undefined ? undefined : new TokenBucket(opts.rate, Math.max(1, opts.rate / 10));
    progressTimer = startProgressTimer(opts, result, total, started);
    const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const run = new ReplayRun({ opts, names, maxAttempts, tracking, topics, writer, validator, bucket }, result);
    const read = await readTopicRange(kafka, dlqTopic, {
      groupPrefix: 'sluice-replay',
      signal: opts.signal,
      onRecord: (record, { heartbeat }) => run.onRecord(record, heartbeat),
    });
    await writer?.flush();
    result.interrupted = read.stopped && !result.limitReached;
    opts.onProgress?.({ ...structuredClone(result), total, elapsedMs: Date.now() - started });
    log.info({ ...result, failures: undefined, wouldFail: undefined }, 'replay finished');
    return result;
  } finally {
    clearInterval(progressTimer);
    await validator?.close();
    await producer?.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}
