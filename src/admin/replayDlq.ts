import type { Config } from '../config/config.ts';
import { SluiceError, asSluiceError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createAck } from '../engine/ack.ts';
import { readToEnd } from '../kafka/readRange.ts';
import { startReferenceReader } from '../runner/referenceReader.ts';
import { MapReferenceTable } from '../engine/referenceTable.ts';
import { startTopology, type TopologyInstance } from '../engine/topologyInstance.ts';
import { sleep, TokenBucket } from '../shop/generate/pacing.ts';
import { createKafkaClient, type KafkaClient } from '../kafka/createKafkaClient.ts';
import { ensureTopics } from '../kafka/ensureTopics.ts';
import type { Admin, IHeaders, Message, Producer } from '../kafka/kafkaTypes.ts';
import { createAvroSerde, type AvroSerde } from '../serde/avroSerde.ts';
import { createRegistryClient } from '../serde/schemaRegistry.ts';
import type { Output, TopologyDefinition } from '../topology/types.ts';
import { headersAsText, readTopicRange, type RawRecord } from './inspectTopic.ts';

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
 * @example
 *   const report = await replayDlq(cfg, { from: 'oltp.customers.dlq', reason: 'rule', dryRun: true });
 *   const summary = await replayDlq(cfg, { from: 'oltp.customers.dlq', reason: 'rule', rate: 500 });
 */

export const DEFAULT_TRACKING_TOPIC = 'sluice.replay.tracking';
export const DEFAULT_MAX_ATTEMPTS = 3;
export const REPLAY_COUNT_HEADER = 'sluice.replay.count';

export interface ReplayFilters {
  /** `sluice.error.reason`: deserialize, schema, rule or processing. */
  reason?: string;
  /** `sluice.error.rule`: the name of the rule that rejected the record. */
  rule?: string;
  /** The original partition (`sluice.error.partition`). */
  partition?: number;
  /** Original offset range, inclusive (`sluice.error.offset`). */
  fromOffset?: bigint | number | string;
  toOffset?: bigint | number | string;
  /** Failure time range on `sluice.error.timestamp` (epoch ms): since inclusive, until exclusive. */
  since?: number;
  until?: number;
  /** The record key, as a UTF-8 string. */
  key?: string;
  /** Writer schema id (`sluice.error.schema.id`, else the id in the value's wire-format header). */
  schemaId?: number;
}

export interface ReplayOptions extends ReplayFilters {
  /** The DLQ topic to read. */
  from: string;
  /** Re-publish here instead of the original topic (`sluice.error.topic`). */
  to?: string;
  /** At most this many records replayed or parked (records skipped as already replayed do not count). */
  limit?: number;
  /** Records per second written (replayed or parked); unlimited when absent. */
  rate?: number;
  dryRun?: boolean;
  /** A record whose replay count reached this is parked instead of replayed (default 3). */
  maxAttempts?: number;
  /**
   * Replay records that failed again after an earlier replay (each failure is one more attempt,
   * up to maxAttempts, then parked). Without it, a record replayed once is skipped on later runs.
   */
  retryFailed?: boolean;
  /** The topologies a dry run validates with (the CLI passes the application's); none: nothing validates. */
  topologies?: Record<string, TopologyDefinition>;
  trackingTopic?: string;
  /** Aborting stops after the current record; what was replayed is tracked, so a rerun continues. */
  signal?: AbortSignal;
  onProgress?: (progress: ReplayProgress) => void;
  progressIntervalMs?: number;
}

export interface ReplaySummary {
  dryRun: false;
  dlqTopic: string;
  read: number;
  matched: number;
  replayed: number;
  /** Already replayed (tracked) records. */
  skipped: number;
  parked: number;
  failed: number;
  /** Why records failed, by cause. */
  failures: Record<string, number>;
  /** Replayed records per destination topic. */
  byTopic: Record<string, number>;
  /** Replayed or parked, but the tracking record could not be written: a rerun replays them again. */
  untracked: number;
  /** Interrupted by the signal (rerun to continue). */
  interrupted: boolean;
  limitReached: boolean;
}

export interface DryRunReport {
  dryRun: true;
  dlqTopic: string;
  read: number;
  matched: number;
  /** Would pass today's schema and rules (an output other than the DLQ). */
  wouldPass: number;
  /** Would return to the DLQ, by reason and by rule. */
  wouldFail: { total: number; byReason: Record<string, number>; byRule: Record<string, number> };
  /** Would be dropped by a filter of the pipeline (neither output nor DLQ). */
  wouldBeFiltered: number;
  /** At max attempts: would be parked. */
  wouldPark: number;
  /** Would be replayed to a topic no known topology reads: outcome unknown. */
  unvalidated: number;
  /** Could not be replayed (no original topic, destination missing). */
  cannotReplay: Record<string, number>;
  skippedAlreadyReplayed: number;
  interrupted: boolean;
  limitReached: boolean;
}

export type ReplayProgress = (ReplaySummary | DryRunReport) & { total: number; elapsedMs: number };

const log = createLogger('replay');

/** A DLQ record with its error headers parsed. */
interface DlqEntry {
  record: RawRecord;
  headers: Record<string, string>;
  origTopic?: string;
  origPartition?: number;
  origOffset?: string;
  /** `topic/partition/offset` of the record's first failure, carried through every replay. */
  origin?: string;
  replayCount: number;
  failedAt: number;
}

function parseEntry(record: RawRecord): DlqEntry {
  const h = headersAsText(record.headers);
  const origTopic = h['sluice.error.topic'] || h['__connect.errors.topic'] || undefined;
  const partition = h['sluice.error.partition'] || h['__connect.errors.partition'];
  const offset = h['sluice.error.offset'] || h['__connect.errors.offset'];
  const count = Number(h[REPLAY_COUNT_HEADER] ?? 0);
  const failedAt = Number(h['sluice.error.timestamp']);
  return {
    record,
    headers: h,
    origTopic,
    origPartition: partition && /^\d+$/.test(partition) ? Number(partition) : undefined,
    origOffset: offset && /^\d+$/.test(offset) ? offset : undefined,
    origin: h[ORIGIN_HEADER] || undefined,
    replayCount: Number.isInteger(count) && count > 0 ? count : 0,
    failedAt: Number.isFinite(failedAt) && h['sluice.error.timestamp'] ? failedAt : record.timestamp,
  };
}

function wireSchemaId(value: Buffer | null): number | undefined {
  return value && value.length >= 5 && value[0] === 0 ? value.readUInt32BE(1) : undefined;
}

function matches(e: DlqEntry, f: ReplayFilters): boolean {
  if (f.reason !== undefined && e.headers['sluice.error.reason'] !== f.reason) return false;
  if (f.rule !== undefined && e.headers['sluice.error.rule'] !== f.rule) return false;
  if (f.partition !== undefined && e.origPartition !== f.partition) return false;
  if (f.fromOffset !== undefined && (e.origOffset === undefined || BigInt(e.origOffset) < BigInt(f.fromOffset)))
    return false;
  if (f.toOffset !== undefined && (e.origOffset === undefined || BigInt(e.origOffset) > BigInt(f.toOffset)))
    return false;
  if (f.since !== undefined && e.failedAt < f.since) return false;
  if (f.until !== undefined && e.failedAt >= f.until) return false;
  if (f.key !== undefined && e.record.key?.toString('utf8') !== f.key) return false;
  if (f.schemaId !== undefined) {
    const header = e.headers['sluice.error.schema.id'];
    const id = header ? Number(header) : wireSchemaId(e.record.value);
    if (id !== f.schemaId) return false;
  }
  return true;
}

/** `<dlqTopic>:<origTopic>/<origPartition>/<origOffset>:<replayCount>` (DLQ coordinates when the origin is unknown). */
/**
 * The record's identity across replays: where it first failed. A replayed record that fails again
 * comes back to the DLQ at new coordinates, but with the origin header its first replay set.
 */
export const ORIGIN_HEADER = 'sluice.replay.origin';

export function originOf(
  dlqTopic: string,
  e: Pick<DlqEntry, 'origTopic' | 'origPartition' | 'origOffset' | 'origin'> & {
    record: Pick<RawRecord, 'partition' | 'offset'>;
  },
): string {
  if (e.origin) return e.origin;
  const known = e.origTopic !== undefined && e.origPartition !== undefined && e.origOffset !== undefined;
  return known
    ? `${e.origTopic}/${e.origPartition}/${e.origOffset}`
    : `${dlqTopic}/${e.record.partition}/${e.record.offset}`;
}

/** Tracking key: the origin plus the replay attempt (`<dlq>:<origin>:<count>`). */
export function trackingKey(
  dlqTopic: string,
  e: Pick<DlqEntry, 'origTopic' | 'origPartition' | 'origOffset' | 'origin' | 'replayCount'> & {
    record: Pick<RawRecord, 'partition' | 'offset'>;
  },
): string {
  return `${dlqTopic}:${originOf(dlqTopic, e)}:${e.replayCount}`;
}

/** The same key without the attempt: "this record was replayed at least once". */
export function originKey(key: string): string {
  return key.slice(0, key.lastIndexOf(':'));
}

/** The original headers without the DLQ's error headers, with the replay count increased. */
export function replayHeaders(headers: IHeaders, previousCount: number, origin?: string): IHeaders {
  const out: IHeaders = {};
  if (origin !== undefined) out[ORIGIN_HEADER] = origin;
  for (const [k, v] of Object.entries(headers)) {
    if (
      v === undefined ||
      k.startsWith('sluice.error.') ||
      k.startsWith('__connect.errors.') ||
      k === REPLAY_COUNT_HEADER ||
      (k === ORIGIN_HEADER && origin !== undefined)
    )
      continue;
    out[k] = v;
  }
  out[REPLAY_COUNT_HEADER] = String(previousCount + 1);
  return out;
}

/** Reads the tracking topic in full: the keys of records already replayed from this DLQ. */
async function loadTracked(
  kafka: KafkaClient,
  trackingTopic: string,
  dlqTopic: string,
  exists: boolean,
): Promise<Set<string>> {
  const tracked = new Set<string>();
  if (!exists) return tracked;
  const prefix = `${dlqTopic}:`;
  await readTopicRange(kafka, trackingTopic, {
    groupPrefix: 'sluice-replay-tracking',
    onRecord: (r) => {
      const key = r.key?.toString('utf8');
      if (!key?.startsWith(prefix)) return;
      if (r.value === null) tracked.delete(key);
      else tracked.add(key);
    },
  });
  return tracked;
}

async function listTopicsOf(kafka: KafkaClient): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

type Verdict = { outcome: 'pass' } | { outcome: 'filtered' } | { outcome: 'fail'; reason: string; rule?: string };

/** Today's topologies, run in memory: what would happen to a record pushed into a source topic. */
function createValidator(
  cfg: Config,
  kafka: KafkaClient,
  serde: AvroSerde,
  topologies: Record<string, TopologyDefinition>,
) {
  const instances = new Map<TopologyDefinition, Promise<TopologyInstance>>();
  const readers: { stop(): Promise<void> }[] = [];
  let captured: Output[] = [];
  let fatal: unknown;

  function topologyFor(topic: string, named?: string): TopologyDefinition | undefined {
    const candidates = Object.values(topologies).filter((t) => t.sources.some((s) => s.topic === topic));
    return candidates.find((t) => t.name === named) ?? candidates[0];
  }

  async function instanceFor(def: TopologyDefinition): Promise<TopologyInstance> {
    let pending = instances.get(def);
    if (!pending) {
      pending = (async () => {
        const tables: Record<string, MapReferenceTable> = {};
        for (const [name, spec] of Object.entries(def.references ?? {})) {
          tables[name] = new MapReferenceTable();
          const reader = await startReferenceReader(cfg, kafka, serde, spec, tables[name]).catch((err) => {
            throw new SluiceError(
              'KAFKA_CONNECT_FAILED',
              `dry run: cannot load reference table ${name} of ${def.name} from ${spec.topic}: ${(err as Error).message}`,
              { cause: err },
            );
          });
          readers.push(reader);
          await reader.ready;
        }
        const instance = startTopology(def, {
          serde,
          tables,
          now: Date.now,
          route: (o) => {
            captured.push(o);
          },
          onFatal: (err) => {
            fatal = err;
          },
        });
        // What the runner knows about duplicates, exactly as it knows it: a dead letter rejected
        // as a duplicate of an accepted record is still one (the real replay's runner agrees).
        const existing = new Set(await listTopicsOf(kafka));
        for (const store of instance.stores().filter((x) => x.kind === 'dedupe' && existing.has(x.changelog))) {
          await readToEnd(kafka, store.changelog, (p, key, value) => {
            if (key !== null) instance.restore(store.changelog, p, key, value);
          });
        }
        return instance;
      })();
      instances.set(def, pending);
    }
    return pending;
  }

  return {
    topologyFor,
    /** Pushes the record through the topology reading `topic` and classifies what came out. */
    async evaluate(def: TopologyDefinition, topic: string, e: DlqEntry, headers: IHeaders): Promise<Verdict> {
      const instance = await instanceFor(def);
      await serde.prepare([e.record.value]);
      captured = [];
      fatal = undefined;
      const ack = createAck(
        () => {},
        () => {},
      );
      try {
        instance.push(
          {
            topic,
            partition: e.origPartition ?? e.record.partition,
            offset: e.origOffset ?? e.record.offset,
            key: e.record.key,
            value: e.record.value,
            headers: headersAsText(headers),
            timestamp: e.record.timestamp,
          },
          ack,
        );
      } catch (err) {
        fatal ??= err;
      }
      const outputs = captured;
      captured = [];
      for (const o of outputs) for (const a of o.acks) a.release();
      if (fatal !== undefined) {
        // A pipeline that errored is finished: the next record gets a fresh instance.
        instances.delete(def);
        instance.stop();
        return { outcome: 'fail', reason: 'processing' };
      }
      const dlq = outputs.find((o) => o.raw && o.headers?.['sluice.error.reason']);
      if (dlq)
        return {
          outcome: 'fail',
          reason: dlq.headers!['sluice.error.reason'],
          rule: dlq.headers!['sluice.error.rule'] || undefined,
        };
      return outputs.length ? { outcome: 'pass' } : { outcome: 'filtered' };
    },
    async close() {
      for (const p of instances.values()) (await p.catch(() => undefined))?.stop();
      for (const r of readers) await r.stop().catch(() => {});
    },
  };
}

interface Pending {
  kind: 'replay' | 'park';
  topic: string;
  message: Message;
  trackingKey: string;
  entry: DlqEntry;
}

export function replayDlq(cfg: Config, opts: ReplayOptions & { dryRun: true }): Promise<DryRunReport>;
export function replayDlq(cfg: Config, opts: ReplayOptions & { dryRun?: false }): Promise<ReplaySummary>;
export function replayDlq(cfg: Config, opts: ReplayOptions): Promise<ReplaySummary | DryRunReport>;
export async function replayDlq(cfg: Config, opts: ReplayOptions): Promise<ReplaySummary | DryRunReport> {
  const dlqTopic = opts.from;
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const trackingTopic = opts.trackingTopic ?? DEFAULT_TRACKING_TOPIC;
  const parkedTopic = `${dlqTopic}.parked`;
  const dryRun = Boolean(opts.dryRun);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new SluiceError('CLI_USAGE', `--max-attempts must be a positive integer, not ${opts.maxAttempts}`);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1))
    throw new SluiceError('CLI_USAGE', `--limit must be a positive integer, not ${opts.limit}`);
  if (opts.rate !== undefined && !(opts.rate > 0))
    throw new SluiceError('CLI_USAGE', `--rate must be a positive number of records per second, not ${opts.rate}`);
  if (opts.to !== undefined && (opts.to === dlqTopic || opts.to === parkedTopic))
    throw new SluiceError(
      'CLI_USAGE',
      `--to ${opts.to} would write the DLQ into itself; name the topic the records should be processed from`,
    );

  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-replay`);
  const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
  const admin: Admin = kafka.admin();
  await admin.connect();
  let producer: Producer | undefined;
  let validator: ReturnType<typeof createValidator> | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  const started = Date.now();

  const summary: ReplaySummary = {
    dryRun: false,
    dlqTopic,
    read: 0,
    matched: 0,
    replayed: 0,
    skipped: 0,
    parked: 0,
    failed: 0,
    failures: {},
    byTopic: {},
    untracked: 0,
    interrupted: false,
    limitReached: false,
  };
  const report: DryRunReport = {
    dryRun: true,
    dlqTopic,
    read: 0,
    matched: 0,
    wouldPass: 0,
    wouldFail: { total: 0, byReason: {}, byRule: {} },
    wouldBeFiltered: 0,
    wouldPark: 0,
    unvalidated: 0,
    cannotReplay: {},
    skippedAlreadyReplayed: 0,
    interrupted: false,
    limitReached: false,
  };
  const result = dryRun ? report : summary;

  try {
    const existing = new Set(await admin.listTopics());
    if (!existing.has(dlqTopic))
      throw new SluiceError('CLI_USAGE', `DLQ topic ${dlqTopic} does not exist (\`sluice topics\` lists the topics)`);
    const total = (await admin.fetchTopicOffsets(dlqTopic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    if (!dryRun) {
      await ensureTopics(admin, [{ topic: trackingTopic, compacted: true }], {
        partitions: cfg.topicPartitions,
        replicationFactor: cfg.topicReplication,
      });
      existing.add(trackingTopic);
    }
    const tracked = await loadTracked(kafka, trackingTopic, dlqTopic, existing.has(trackingTopic));
    const trackedOrigins = new Set([...tracked].map(originKey));
    log.info({ dlqTopic, records: total, tracked: tracked.size, dryRun }, 'replay starting');

    const partitionCounts = new Map<string, number>();
    const partitionsOf = async (topic: string): Promise<number> => {
      let n = partitionCounts.get(topic);
      if (n === undefined) {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        n = meta.topics[0]?.partitions.length ?? 0;
        partitionCounts.set(topic, n);
      }
      return n;
    };

    if (dryRun) validator = createValidator(cfg, kafka, serde, opts.topologies ?? {});
    else {
      producer = kafka.producer();
      await producer.connect();
    }
    const bucket = opts.rate === undefined ? undefined : new TokenBucket(opts.rate, Math.max(1, opts.rate / 10));
    if (opts.onProgress) {
      const onProgress = opts.onProgress;
      progressTimer = setInterval(
        () => onProgress({ ...structuredClone(result), total, elapsedMs: Date.now() - started }),
        opts.progressIntervalMs ?? 1000,
      );
      progressTimer.unref();
    }

    // The producer retries a missing topic forever, so destinations are checked first.
    const topicExists = async (topic: string): Promise<boolean> => {
      if (!existing.has(topic) && (await admin.listTopics()).includes(topic)) existing.add(topic);
      return existing.has(topic);
    };
    let pending: Pending[] = [];
    let parkedTopicReady = existing.has(parkedTopic);
    let acted = 0;
    const fail = (cause: string, e: DlqEntry, n = 1) => {
      if (dryRun) {
        report.cannotReplay[cause] = (report.cannotReplay[cause] ?? 0) + n;
        return;
      }
      summary.failed += n;
      summary.failures[cause] = (summary.failures[cause] ?? 0) + n;
      log.warn(
        {
          code: cause.startsWith('SLUICE_ERR_') ? cause : 'SLUICE_ERR_CLI_USAGE',
          cause,
          topic: dlqTopic,
          partition: e.record.partition,
          offset: e.record.offset,
        },
        'record not replayed',
      );
    };

    /** Sends what is pending, then records it in the tracking topic once the broker has it. */
    const flush = async () => {
      if (!pending.length || !producer) return;
      const batch = pending;
      pending = [];
      try {
        if (!parkedTopicReady && batch.some((p) => p.kind === 'park')) {
          await ensureTopics(admin, [{ topic: parkedTopic, partitions: await partitionsOf(dlqTopic) }], {
            partitions: cfg.topicPartitions,
            replicationFactor: cfg.topicReplication,
          });
          parkedTopicReady = true;
        }
        const byTopic = new Map<string, Message[]>();
        for (const p of batch) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.message]);
        await producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      } catch (err) {
        const e = asSluiceError(err, 'KAFKA_PRODUCE_FAILED');
        for (const p of batch) fail(e.code, p.entry);
        return;
      }
      for (const p of batch) {
        if (p.kind === 'park') summary.parked++;
        else {
          summary.replayed++;
          summary.byTopic[p.topic] = (summary.byTopic[p.topic] ?? 0) + 1;
        }
      }
      const at = new Date().toISOString();
      try {
        await producer.send({
          topic: trackingTopic,
          acks: -1,
          messages: batch.map((p) => ({
            key: p.trackingKey,
            value: JSON.stringify({
              outcome: p.kind === 'park' ? 'parked' : 'replayed',
              to: p.topic,
              dlq: { topic: dlqTopic, partition: p.entry.record.partition, offset: p.entry.record.offset },
              replayCount: p.entry.replayCount,
              at,
            }),
          })),
        });
      } catch (err) {
        summary.untracked += batch.length;
        log.error(
          {
            code: 'SLUICE_ERR_KAFKA_PRODUCE_FAILED',
            trackingTopic,
            records: batch.length,
            err: (err as Error).message,
          },
          'replayed records could not be tracked; a rerun would replay them again',
        );
      }
    };

    /** Waits for a token, flushing first so that nothing sits unsent while the limiter waits. */
    const takeToken = async (heartbeat: () => Promise<void>): Promise<boolean> => {
      if (!bucket) return true;
      for (;;) {
        if (opts.signal?.aborted) return false;
        if (bucket.take(1) === 1) return true;
        await flush();
        await sleep(Math.min(1000, Math.max(1, bucket.waitMs())), opts.signal);
        await heartbeat();
      }
    };

    const read = await readTopicRange(kafka, dlqTopic, {
      groupPrefix: 'sluice-replay',
      signal: opts.signal,
      onRecord: async (record, { heartbeat }) => {
        if (opts.signal?.aborted) return false;
        result.read++;
        const e = parseEntry(record);
        if (!matches(e, opts)) return;
        const key = trackingKey(dlqTopic, e);
        // By default a record replayed once is done with (a second run changes nothing); with
        // --retry-failed, each new failure of it is another attempt, up to --max-attempts.
        if (opts.retryFailed ? tracked.has(key) : trackedOrigins.has(originKey(key))) {
          result.matched++;
          if (dryRun) report.skippedAlreadyReplayed++;
          else summary.skipped++;
          return;
        }
        if (!dryRun && !(await takeToken(heartbeat))) return false;
        result.matched++;
        tracked.add(key); // the same record twice in the DLQ (redelivered) is replayed once
        trackedOrigins.add(originKey(key));
        acted++;
        const park = e.replayCount >= maxAttempts;
        const target = opts.to ?? e.origTopic;
        if (park) {
          if (dryRun) report.wouldPark++;
          else
            pending.push({
              kind: 'park',
              topic: parkedTopic,
              trackingKey: key,
              entry: e,
              message: {
                key: record.key,
                value: record.value,
                headers: record.headers,
                timestamp: String(record.timestamp),
              },
            });
        } else if (target === undefined) {
          fail('no original topic (no sluice.error.topic header): use --to', e);
        } else if (target === dlqTopic || target === parkedTopic) {
          fail(`destination ${target} is the DLQ itself`, e);
        } else if (!(await topicExists(target))) {
          fail(`destination topic ${target} does not exist`, e);
        } else {
          const headers = replayHeaders(record.headers, e.replayCount, originOf(dlqTopic, e));
          if (dryRun) {
            const def = validator!.topologyFor(target, e.headers['sluice.error.topology']);
            if (!def) report.unvalidated++;
            else {
              const verdict = await validator!.evaluate(def, target, e, headers);
              if (verdict.outcome === 'pass') report.wouldPass++;
              else if (verdict.outcome === 'filtered') report.wouldBeFiltered++;
              else {
                report.wouldFail.total++;
                report.wouldFail.byReason[verdict.reason] = (report.wouldFail.byReason[verdict.reason] ?? 0) + 1;
                if (verdict.rule)
                  report.wouldFail.byRule[verdict.rule] = (report.wouldFail.byRule[verdict.rule] ?? 0) + 1;
              }
            }
          } else {
            // Back to its original partition when it can: per-key order as the source had it.
            const partition =
              target === e.origTopic && e.origPartition !== undefined && e.origPartition < (await partitionsOf(target))
                ? e.origPartition
                : undefined;
            pending.push({
              kind: 'replay',
              topic: target,
              trackingKey: key,
              entry: e,
              message: {
                key: record.key,
                value: record.value,
                headers,
                partition,
                timestamp: String(record.timestamp),
              },
            });
          }
        }
        if (pending.length >= 100) await flush();
        if (opts.limit !== undefined && acted >= opts.limit) {
          result.limitReached = true;
          return false;
        }
        return undefined;
      },
    });
    await flush();
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
