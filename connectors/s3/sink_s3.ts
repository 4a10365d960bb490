import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateRawSync, gzipSync } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type avro from 'avsc';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { SluiceError, asSluiceError } from '../../src/core/errors.ts';
import { createLogger } from '../../src/core/log.ts';
import { withRetry } from '../../src/core/retry.ts';
import { loadSchema } from '../../src/domain/schemas.ts';
import { createS3Client } from '../../src/s3/s3Client.ts';
import { forSchema } from '../../src/serde/logicalTypes.ts';
import type { Ack, Output, SinkConnector, SinkContext, SinkFactory, SourceRecord } from '../../src/topology/types.ts';
import {
  parseS3SinkConfig,
  type S3Format,
  type S3SinkConfig,
  type S3SinkConfigInput,
  type S3Zone,
} from './sink_s3.config.ts';

/**
 * S3 lake sink: micro-batches per source topic-partition, written to
 * `s3://BUCKET/<zone>/<topic>/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<startOffset>.<ext>`
 * (SPEC §7). Topic, partition and start offset are the *source record's* (`output.source`), not
 * the output name, and dt/hour come from the batch's first record's Kafka timestamp (UTC).
 *
 * Lifecycle: the factory validates the config and does no I/O; `connect` resolves the bucket and
 * sweeps stale multipart uploads; `add` never blocks (it encodes the record into the partition's
 * open batch); a closed batch uploads with `@aws-sdk/lib-storage` (multipart, bounded memory) and
 * only after `upload.done()` are its records' acks released — commit-after-durable.
 *
 * Exactly once. A batch starts at the first record after the previous batch and closes on
 * deterministic rules: `rollRecords`, `rollBytes` (exact encoded size), a change of event-time
 * span (`rollEventTimeMs`, dividing an hour). Replaying the same records therefore rebuilds the
 * same batches, and the same names: a retry or a restart (which re-delivers from the committed
 * offset, the start of the first batch not yet durable) overwrites, never duplicates.
 * Idle closes (`idleCloseMs`), watermark closes and the shutdown flush are NOT reproducible. They
 * stay safe because (1) the closed object's records are committed once it is durable, so a
 * restart resumes after it, and (2) for the window between durable and committed (or a changed
 * config), a partition's first batch in each hour directory is only opened after listing the
 * objects already there: existing start offsets become forced batch boundaries, so replayed
 * batches line up with — and overwrite — what is there; and when the replay starts inside an
 * existing object (its `sluice-last-offset` metadata says so), the records it already holds are
 * acknowledged without being written again. Uploads to one name are serialised, so an older
 * upload never lands after a newer one.
 *
 * Assumptions and limits: re-delivery (an offset not above the last one seen) is taken as the
 * runner having reset its offset tracking (rebalance, consumer restart), so the open batch's acks
 * are dropped, not released. Memory holds each open batch's encoded records (≤ rollBytes) plus,
 * per upload, about partSize × (queueSize + 1).
 *
 * @example
 *   outputs: [{ topic: 'lake.raw.oltp.orders', schema: 'oltp.orders', raw: true, sink: s3Sink({ zone: 'raw' }) }]
 */

const log = createLogger('sink_s3');

export const HOUR_MS = 3_600_000;
/** Records are grouped into container blocks (or gzip members) of about this many bytes. */
export const BLOCK_BYTES = 64 * 1024;
/** Room in front of a block's records for its two varints (count, size), so framing never copies. */
const BLOCK_HEAD = 20;
const SYNC_BYTES = 16;
/** A block buffer holds BLOCK_BYTES plus this much overshoot; a larger record gets a block of its own. */
const BLOCK_SLACK = 16 * 1024;
/** Clock skew tolerated between S3 and us when deciding an upload began before this connector. */
const STALE_MARGIN_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Naming and roll decisions (pure)
// ---------------------------------------------------------------------------------------------

/** Latest instant with a four-digit year (9999-12-31T23:59:59.999Z). */
const MAX_EVENT_TIME = 253_402_300_799_999;

/** The event time the layout uses: absent (negative) or non-finite timestamps count as 0, absurd ones are capped. */
export function layoutTime(timestampMs: number): number {
  return Number.isFinite(timestampMs) ? Math.min(MAX_EVENT_TIME, Math.max(0, Math.floor(timestampMs))) : 0;
}

/** `dt`/`hour` partition values of an event time (UTC); see `layoutTime` for odd timestamps. */
export function hourPartition(timestampMs: number): { dt: string; hour: string } {
  const iso = new Date(layoutTime(timestampMs)).toISOString();
  return { dt: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export function extensionOf(format: S3Format): string {
  return format === 'avro' ? 'avro' : 'jsonl.gz';
}

/** `<zone>/<topic>/dt=YYYY-MM-DD/hour=HH`: the directory of an object whose first record has this timestamp. */
export function partitionDir(zone: S3Zone, topic: string, timestampMs: number): string {
  const { dt, hour } = hourPartition(timestampMs);
  return `${zone}/${topic}/dt=${dt}/hour=${hour}`;
}

/** The object key of a batch: `<zone>/<topic>/dt=…/hour=…/<topic>+<partition>+<startOffset>.<ext>`. */
export function objectKey(args: {
  zone: S3Zone;
  topic: string;
  partition: number;
  startOffset: bigint | string;
  timestamp: number;
  format: S3Format;
}): string {
  return `${partitionDir(args.zone, args.topic, args.timestamp)}/${args.topic}+${args.partition}+${args.startOffset}.${extensionOf(args.format)}`;
}

/** Prefix of every object of one topic-partition in one hour directory (for listing). */
export function objectKeyPrefix(dir: string, topic: string, partition: number): string {
  return `${dir}/${topic}+${partition}+`;
}

export interface ParsedObjectKey {
  zone: S3Zone;
  topic: string;
  dt: string;
  hour: string;
  partition: number;
  startOffset: bigint;
  format: S3Format;
}

const KEY_PATTERN =
  /^(raw|staging|quarantine)\/([^/+]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/+]+)\+(\d+)\+(\d+)\.(avro|jsonl\.gz)$/;

/** The parts of a lake object key; undefined for anything that does not follow the layout. */
export function parseObjectKey(key: string): ParsedObjectKey | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m || m[2] !== m[5]) return undefined;
  return {
    zone: m[1] as S3Zone,
    topic: m[2],
    dt: m[3],
    hour: m[4],
    partition: Number(m[6]),
    startOffset: BigInt(m[7]),
    format: m[8] === 'avro' ? 'avro' : 'jsonl.gz',
  };
}

/** Index of the event-time span a timestamp falls in; a batch never holds two spans. */
export function eventTimeBucket(timestampMs: number, rollEventTimeMs: number): number {
  return Math.floor(layoutTime(timestampMs) / rollEventTimeMs);
}

export type RollReason = 'records' | 'bytes' | 'event-time' | 'aligned' | 'schema' | 'idle' | 'watermark' | 'flush';

/** What the roll decisions need to know about an open batch. */
export interface BatchShape {
  startOffset: bigint;
  records: number;
  bytes: number;
  bucket: number;
  schema: string;
  /** The smallest start offset of an object already known in this directory above `startOffset`. */
  nextKnownStart?: bigint;
}

/**
 * Must the open batch close *before* a record at `offset` goes in? Deterministic: depends only on
 * the batch and the record (event-time span, writer schema, an existing object starting here).
 */
export function rollBefore(
  batch: BatchShape,
  record: { offset: bigint; bucket: number; schema: string },
): RollReason | undefined {
  if (record.bucket !== batch.bucket) return 'event-time';
  if (record.schema !== batch.schema) return 'schema';
  if (batch.nextKnownStart !== undefined && record.offset >= batch.nextKnownStart) return 'aligned';
  return undefined;
}

/** Is the batch full *after* a record went in? */
export function rollAfter(
  batch: Pick<BatchShape, 'records' | 'bytes'>,
  cfg: Pick<S3SinkConfig, 'rollRecords' | 'rollBytes'>,
): RollReason | undefined {
  if (batch.records >= cfg.rollRecords) return 'records';
  if (batch.bytes >= cfg.rollBytes) return 'bytes';
  return undefined;
}

/** The smallest of `starts` strictly above `after`. */
export function nextKnownStart(starts: Iterable<bigint>, after: bigint): bigint | undefined {
  let best: bigint | undefined;
  for (const s of starts) if (s > after && (best === undefined || s < best)) best = s;
  return best;
}

export interface PlannedRecord {
  offset: bigint;
  timestamp: number;
  bytes: number;
  schema?: string;
}
export interface PlannedBatch {
  startOffset: bigint;
  lastOffset: bigint;
  records: number;
  bytes: number;
  timestamp: number;
  closedBy: RollReason | 'end';
}

/**
 * The batches the sink forms from one partition's records (deterministic rolls only), given the
 * start offsets of objects already in the lake. The connector applies the same rules record by
 * record; this is their specification, and what the tests replay.
 */
export function planBatches(
  records: PlannedRecord[],
  cfg: Pick<S3SinkConfig, 'rollRecords' | 'rollBytes' | 'rollEventTimeMs'>,
  knownStarts: Iterable<bigint> = [],
): PlannedBatch[] {
  const known = [...knownStarts];
  const out: PlannedBatch[] = [];
  let cur: (BatchShape & { lastOffset: bigint; timestamp: number }) | undefined;
  const close = (closedBy: PlannedBatch['closedBy']) => {
    if (!cur) return;
    out.push({
      startOffset: cur.startOffset,
      lastOffset: cur.lastOffset,
      records: cur.records,
      bytes: cur.bytes,
      timestamp: cur.timestamp,
      closedBy,
    });
    cur = undefined;
  };
  for (const r of records) {
    const bucket = eventTimeBucket(r.timestamp, cfg.rollEventTimeMs);
    const schema = r.schema ?? '';
    if (cur) {
      const why = rollBefore(cur, { offset: r.offset, bucket, schema });
      if (why) close(why);
    }
    cur ??= {
      startOffset: r.offset,
      lastOffset: r.offset,
      records: 0,
      bytes: 0,
      bucket,
      schema,
      timestamp: r.timestamp,
      nextKnownStart: nextKnownStart(known, r.offset),
    };
    cur.records++;
    cur.bytes += r.bytes;
    cur.lastOffset = r.offset;
    const full = rollAfter(cur, cfg);
    if (full) close(full);
  }
  close('end');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Record formats
// ---------------------------------------------------------------------------------------------

/** Writer schema of the `raw` and `quarantine` zones: the Kafka record as it was, value untouched. */
export const LAKE_RECORD_SCHEMA = {
  type: 'record',
  name: 'LakeRecord',
  namespace: 'sluice.lake',
  doc: 'A Kafka record as consumed: coordinates, Kafka timestamp, key, the original value bytes, headers.',
  fields: [
    { name: 'topic', type: 'string', doc: 'Source topic.' },
    { name: 'partition', type: 'int', doc: 'Source partition.' },
    { name: 'offset', type: 'long', doc: 'Offset in the source partition.' },
    {
      name: 'timestamp',
      type: { type: 'long', logicalType: 'timestamp-millis' },
      doc: 'Kafka record timestamp (epoch ms); the event time of the lake layout.',
    },
    { name: 'key', type: ['null', 'string'], default: null, doc: 'Record key as UTF-8, null when absent.' },
    {
      name: 'value',
      type: ['null', 'bytes'],
      default: null,
      doc: 'The original value bytes (for Avro topics the Confluent wire format), null for a tombstone.',
    },
    {
      name: 'headers',
      type: { type: 'map', values: 'string' },
      default: {},
      doc: 'Record headers (DLQ records carry sluice.error.* here).',
    },
  ],
} as const;

export interface LakeRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

const RAW_SCHEMA_NAME = `${LAKE_RECORD_SCHEMA.namespace}.${LAKE_RECORD_SCHEMA.name}`;
let cachedLakeRecordType: avro.Type | undefined;
/** The avsc type of LAKE_RECORD_SCHEMA (built on first use). */
export function lakeRecordType(): avro.Type {
  cachedLakeRecordType ??= forSchema(LAKE_RECORD_SCHEMA as unknown as avro.Schema);
  return cachedLakeRecordType;
}

export function lakeRecordOf(src: SourceRecord): LakeRecord {
  return {
    topic: src.topic,
    partition: src.partition,
    offset: Number(src.offset),
    timestamp: src.timestamp,
    key: src.key === null ? null : src.key.toString('utf8'),
    value: src.value,
    headers: src.headers ?? {},
  };
}

/** JSON for lines: Buffers as base64 (raw values, bytes fields), bigints as strings. */
function jsonReplacer(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const original = this[k];
  if (Buffer.isBuffer(original)) return original.toString('base64');
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** Avro `long` (zig-zag varint) for non-negative or negative safe integers. */
export function avroLong(n: number): Buffer {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const bytes: number[] = [];
  while (v > 0x7f) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

function avroBytes(b: Buffer): Buffer[] {
  return [avroLong(b.length), b];
}

/** Header of an Avro object container file (magic, metadata map, sync marker). */
export function avroContainerHeader(
  schemaJson: string,
  codec: 'null' | 'deflate',
  metadata: Record<string, string>,
  sync: Buffer,
): Buffer {
  const entries: [string, string][] = [['avro.schema', schemaJson], ['avro.codec', codec], ...Object.entries(metadata)];
  const parts: Buffer[] = [Buffer.from([0x4f, 0x62, 0x6a, 0x01]), avroLong(entries.length)];
  for (const [k, v] of entries) parts.push(...avroBytes(Buffer.from(k, 'utf8')), ...avroBytes(Buffer.from(v, 'utf8')));
  parts.push(avroLong(0), sync);
  return Buffer.concat(parts);
}

/** The 16-byte sync marker of an object: derived from its key, so a rewrite is byte-identical. */
export function syncMarker(key: string): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, 16);
}

// ---------------------------------------------------------------------------------------------
// The connector
// ---------------------------------------------------------------------------------------------

/** The block being filled: records encoded in place after BLOCK_HEAD; `body` ends SYNC_BYTES early. */
interface OpenBlock {
  buf: Buffer;
  body: Buffer;
  pos: number;
  count: number;
}

interface Batch {
  key: string;
  topic: string;
  partition: number;
  dir: string;
  startOffset: bigint;
  lastOffset: bigint;
  timestamp: number;
  bucket: number;
  schema: string;
  nextKnownStart?: bigint;
  records: number;
  bytes: number;
  /** Finished blocks exactly as they go into the object (framed Avro blocks, or gzip members). */
  blocks: Buffer[];
  block?: OpenBlock;
  sync: Buffer;
  acks: Ack[];
  lastAddAt: number;
}

interface PartitionState {
  topic: string;
  partition: number;
  lastOffset?: bigint;
  batch?: Batch;
  /** Records waiting for the listing of a directory before a batch can open there. */
  pending?: Output[];
  /** Start offsets of objects found by listing, per hour directory (cleared on re-delivery). */
  listed: Map<string, Set<bigint>>;
  /** Start offsets of batches this connector closed, per directory (uploaded or uploading). */
  own: Map<string, Set<bigint>>;
  /** The next listing may find an object the replay starts inside (after connect or re-delivery). */
  recovering: boolean;
  /** Records up to this offset are already durable in an existing object: acknowledge, skip. */
  skipThrough?: bigint;
  /** Bumped on re-delivery, so a listing begun before it is ignored. */
  generation: number;
}

/** Counters per connector; the caller exports them (Prometheus). */
export interface S3SinkStats {
  /** Objects written. */
  batches: number;
  /** Object bytes written (after compression). */
  bytes: number;
  /** Records written. */
  rows: number;
  /** Upload attempts repeated after a failure. */
  retries: number;
  /** Batches given up after the last retry (their records failed, never committed). */
  failures: number;
  /** Epoch ms of the last successful upload; null before the first. */
  lastFlushAt: number | null;
  /** Close → durable latency, Prometheus-style cumulative buckets (`le` seconds). */
  flushSeconds: { buckets: number[]; counts: number[]; sum: number; count: number };
  /** Why batches closed. */
  rolls: Record<RollReason, number>;
  openBatches: number;
  uploadsInFlight: number;
  /** Re-delivered records acknowledged without a rewrite (already inside an existing object). */
  skippedRecords: number;
  /** Records no object can hold (their value does not match the writer schema) handed to `<source>.dlq`, reason `sink`. */
  deadLettered: number;
  /** Re-deliveries seen (offset not above the last one of its partition). */
  rewinds: number;
  staleUploadsAborted: number;
}

export interface S3SinkConnector extends SinkConnector {
  readonly stats: S3SinkStats;
  readonly config: S3SinkConfig;
  /** Flush latencies (seconds) observed since the last call, for `histogram.observe`. */
  drainFlushSeconds(): number[];
}

/** Injected dependencies (tests, benchmarks); by default everything comes from the Sluice config. */
export interface S3SinkDeps {
  /** A client to use (not destroyed at close). */
  client?: S3Client;
  /** The Sluice configuration (default: `loadConfig()` at connect). */
  config?: Config;
}

const FLUSH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

function emptyStats(): S3SinkStats {
  return {
    batches: 0,
    bytes: 0,
    rows: 0,
    retries: 0,
    failures: 0,
    lastFlushAt: null,
    flushSeconds: { buckets: FLUSH_BUCKETS, counts: FLUSH_BUCKETS.map(() => 0), sum: 0, count: 0 },
    rolls: { records: 0, bytes: 0, 'event-time': 0, aligned: 0, schema: 0, idle: 0, watermark: 0, flush: 0 },
    openBatches: 0,
    uploadsInFlight: 0,
    skippedRecords: 0,
    deadLettered: 0,
    rewinds: 0,
    staleUploadsAborted: 0,
  };
}

/**
 * A SinkFactory for the S3 lake. Validates `config` now (CONFIG_INVALID before any I/O); each
 * call of the factory makes one connector.
 *
 * @example
 *   { topic: 'lake.staging.silver.orders', schema: 'silver.orders', sink: s3Sink({ zone: 'staging' }) }
 */
export function s3Sink(config: S3SinkConfigInput = {}, deps: S3SinkDeps = {}): SinkFactory {
  const cfg = parseS3SinkConfig(config);
  return (ctx) => createS3SinkConnector(cfg, ctx, deps);
}

export function createS3SinkConnector(cfg: S3SinkConfig, ctx: SinkContext, deps: S3SinkDeps = {}): S3SinkConnector {
  const name = cfg.name || `s3-${cfg.zone}`;
  const decoded = cfg.zone === 'staging';
  const stats = emptyStats();
  let recentFlushSeconds: number[] = [];
  const partitions = new Map<string, PartitionState>();
  const uploads = new Set<Promise<void>>();
  const listings = new Set<Promise<void>>();
  const activeUploads = new Set<Upload>();
  const keyChains = new Map<string, Promise<void>>();
  const slotWaiters: (() => void)[] = [];
  let freeSlots = cfg.maxConcurrentUploads;
  const stopRetries = new AbortController();
  let client: S3Client | undefined;
  let ownsClient = false;
  let bucket = '';
  let connectedAt = 0;
  let connecting: Promise<void> | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  let closing = false;
  let closed = false;
  let abandoned = false;

  // Writer schema per schema name: [json, avsc type].
  const writers = new Map<string, { json: string; type: avro.Type }>();
  function writerFor(schemaName: string): { json: string; type: avro.Type } {
    let w = writers.get(schemaName);
    if (!w) {
      if (schemaName === RAW_SCHEMA_NAME) {
        w = { json: JSON.stringify(LAKE_RECORD_SCHEMA), type: lakeRecordType() };
      } else {
        const type = ctx.schemaFor(schemaName);
        // The .avsc text keeps logical types avsc leaves unregistered (timestamp-millis).
        let json: string;
        try {
          json = JSON.stringify(loadSchema(schemaName));
        } catch {
          json = JSON.stringify(type.schema({ exportAttrs: true }));
        }
        w = { json, type };
      }
      writers.set(schemaName, w);
    }
    return w;
  }

  function schemaNameOf(o: Output): string {
    if (!decoded) return RAW_SCHEMA_NAME;
    if (o.raw || !o.schemaSubjectTopic) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `${name}: the staging zone writes decoded values; output ${o.topic} is raw or has no schema (declare it without raw: true)`,
      );
    }
    return o.schemaSubjectTopic;
  }

  /** Encodes a record into `body` at `pos`: the new position, or minus the bytes missing. */
  function writeRecord(o: Output, schemaName: string, body: Buffer, pos: number): number {
    const value = decoded ? o.value : lakeRecordOf(o.source!);
    if (cfg.format === 'avro') return writerFor(schemaName).type.encode(value, body, pos);
    // JSON lines check nothing by themselves: a staging object holds what its schema says, in
    // either format, so a value the schema refuses is refused here too.
    if (decoded && !writerFor(schemaName).type.isValid(value))
      throw new SluiceError('SINK_RECORD_REJECTED', `${name}: the value does not match ${schemaName}`);
    const line = `${JSON.stringify(value, jsonReplacer)}\n`;
    const n = Buffer.byteLength(line, 'utf8');
    if (pos + n > body.length) return body.length - (pos + n);
    body.write(line, pos, 'utf8');
    return pos + n;
  }

  function newBlock(capacity: number): OpenBlock {
    // Not from the shared pool: a block outlives the call, and a pooled view would pin its slab.
    const buf = Buffer.allocUnsafeSlow(BLOCK_HEAD + capacity + SYNC_BYTES);
    return { buf, body: buf.subarray(0, BLOCK_HEAD + capacity), pos: BLOCK_HEAD, count: 0 };
  }

  /** Appends one record to the batch's open block; returns its encoded size. */
  function appendRecord(b: Batch, o: Output): number {
    for (;;) {
      const blk = (b.block ??= newBlock(BLOCK_BYTES + BLOCK_SLACK));
      const end = writeRecord(o, b.schema, blk.body, blk.pos);
      if (end >= 0) {
        const size = end - blk.pos;
        blk.pos = end;
        blk.count++;
        if (blk.pos - BLOCK_HEAD >= BLOCK_BYTES) finishBlock(b);
        return size;
      }
      if (blk.count > 0)
        finishBlock(b); // full: the record opens the next block
      else b.block = newBlock(blk.body.length - BLOCK_HEAD - end + BLOCK_SLACK); // a record larger than a block
    }
  }

  /**
   * Why no object can hold this record (its value does not match the writer schema, or does not
   * serialise), or undefined if one can. Names the fields, never their values: the message goes
   * into the dead letter's headers and the runner's log.
   */
  function encodeProblem(o: Output, schemaName: string): string | undefined {
    const value = decoded ? o.value : lakeRecordOf(o.source!);
    const bad: string[] = [];
    if (
      !writerFor(schemaName).type.isValid(value, {
        errorHook: (path) => {
          bad.push(path.join('.') || '(root)');
        },
      })
    ) {
      return `the value does not match the writer schema ${schemaName} at ${bad.slice(0, 5).join(', ')}`;
    }
    if (cfg.format === 'jsonl.gz') {
      try {
        JSON.stringify(value, jsonReplacer);
      } catch (err) {
        return `the value cannot be written as JSON (${(err as Error).name})`;
      }
    }
    return undefined;
  }

  /**
   * A record no object can hold goes to the runner's dead-letter queue, which takes over its acks
   * (Kafka Connect's errors.tolerance=all); without one (no runner) it fails, as before.
   * Names stay deterministic: the record is never part of a batch, so a batch it would have
   * opened starts at the next record written — and a replay, refusing the same record again,
   * opens the same batch under the same name.
   */
  function refuse(o: Output, problem: string, err?: unknown): void {
    if (!ctx.deadLetter) {
      failOutput(
        o,
        new SluiceError('SINK_RECORD_REJECTED', `${name}: ${problem}`, { cause: err, coordinates: coordinatesOf(o) }),
      );
      return;
    }
    stats.deadLettered++;
    ctx.deadLetter(o, { sink: name, message: problem });
  }

  function coordinatesOf(o: Output) {
    return o.source ? { topic: o.source.topic, partition: o.source.partition, offset: o.source.offset } : undefined;
  }

  function failOutput(
    o: Output,
    err: unknown,
    code: 'S3_REQUEST_FAILED' | 'INTERNAL' | 'CONFIG_INVALID' = 'INTERNAL',
  ): void {
    const e = asSluiceError(err, code, { coordinates: coordinatesOf(o) });
    for (const a of o.acks) a.fail(e);
  }

  // --- batches -------------------------------------------------------------------------------

  function state(topic: string, partition: number): PartitionState {
    const k = `${topic}/${partition}`;
    let st = partitions.get(k);
    if (!st) {
      st = { topic, partition, listed: new Map(), own: new Map(), recovering: true, generation: 0 };
      partitions.set(k, st);
      void sweepPartitionUploads(st);
    }
    return st;
  }

  /** Seals the open block into its final bytes (framed and synced, or compressed). */
  function finishBlock(b: Batch): void {
    const blk = b.block;
    if (!blk || !blk.count) return;
    const records = blk.buf.subarray(BLOCK_HEAD, blk.pos);
    if (cfg.format === 'jsonl.gz' || cfg.avroCodec === 'deflate') {
      const packed = cfg.format === 'jsonl.gz' ? gzipSync(records) : deflateRawSync(records);
      b.blocks.push(
        cfg.format === 'jsonl.gz'
          ? packed
          : Buffer.concat([avroLong(blk.count), avroLong(packed.length), packed, b.sync]),
      );
      blk.pos = BLOCK_HEAD; // the compressed copy is kept: reuse the buffer
      blk.count = 0;
      return;
    }
    // Uncompressed Avro: frame in place — the varints go into the room before the records.
    const head = Buffer.concat([avroLong(blk.count), avroLong(records.length)]);
    head.copy(blk.buf, BLOCK_HEAD - head.length);
    b.sync.copy(blk.buf, blk.pos);
    b.blocks.push(blk.buf.subarray(BLOCK_HEAD - head.length, blk.pos + SYNC_BYTES));
    b.block = undefined;
  }

  function openBatch(st: PartitionState, src: SourceRecord, dir: string, bucket_: number, schema: string): Batch {
    const startOffset = BigInt(src.offset);
    const known = [...(st.listed.get(dir) ?? []), ...(st.own.get(dir) ?? [])];
    const key = `${objectKeyPrefix(dir, src.topic, src.partition)}${startOffset}.${extensionOf(cfg.format)}`;
    stats.openBatches++;
    return {
      key,
      topic: src.topic,
      partition: src.partition,
      dir,
      startOffset,
      lastOffset: startOffset,
      timestamp: src.timestamp,
      bucket: bucket_,
      schema,
      nextKnownStart: nextKnownStart(known, startOffset),
      records: 0,
      bytes: 0,
      blocks: [],
      sync: syncMarker(key),
      acks: [],
      lastAddAt: Date.now(),
    };
  }

  function remember(map: Map<string, Set<bigint>>, dir: string, start?: bigint): Set<bigint> {
    let set = map.get(dir);
    if (!set) {
      set = new Set();
      map.set(dir, set);
      // Keep the last few directories: late records may revisit one; an evicted one is re-listed.
      if (map.size > 8) map.delete(map.keys().next().value!);
    }
    if (start !== undefined) set.add(start);
    return set;
  }

  function closeBatch(st: PartitionState, reason: RollReason): void {
    const b = st.batch;
    if (!b) return;
    st.batch = undefined;
    stats.openBatches--;
    stats.rolls[reason]++;
    finishBlock(b);
    b.block = undefined;
    remember(st.own, b.dir, b.startOffset);
    const p = upload(b, reason);
    uploads.add(p);
    void p.finally(() => uploads.delete(p));
  }

  /** Places one record: skip, roll, wait for a directory listing, or append. */
  function place(st: PartitionState, o: Output): void {
    const src = o.source!;
    const offset = BigInt(src.offset);
    let schema: string;
    try {
      schema = schemaNameOf(o);
    } catch (err) {
      failOutput(o, err, 'CONFIG_INVALID');
      return;
    }
    if (st.skipThrough !== undefined) {
      if (offset <= st.skipThrough) {
        // A record in the existing object's range that the object cannot hold was dead-lettered
        // by the run that wrote it; whether that dead letter became durable is unknown (it held
        // the commit back), so it is sent again rather than acknowledged as written.
        const problem = encodeProblem(o, schema);
        if (problem) {
          refuse(o, problem);
          return;
        }
        stats.skippedRecords++;
        for (const a of o.acks) a.release();
        return;
      }
      st.skipThrough = undefined;
    }
    const bucket_ = eventTimeBucket(src.timestamp, cfg.rollEventTimeMs);
    if (st.batch) {
      const why = rollBefore(st.batch, { offset, bucket: bucket_, schema });
      if (why) closeBatch(st, why);
    }
    if (!st.batch) {
      const dir = partitionDir(cfg.zone, src.topic, src.timestamp);
      if (!st.listed.has(dir)) {
        st.pending = [o];
        startListing(st, dir, offset);
        return;
      }
      st.batch = openBatch(st, src, dir, bucket_, schema);
    }
    const b = st.batch;
    let size: number;
    try {
      size = appendRecord(b, o);
    } catch (err) {
      // toTopic checks values against the schema, but an operator that builds its outputs itself
      // does not. The record is left out of the batch (an empty one is dropped, so the next
      // record written opens it and names it: see refuse).
      if (!b.records) {
        st.batch = undefined;
        stats.openBatches--;
      }
      refuse(o, encodeProblem(o, schema) ?? `the value cannot be encoded (${(err as Error)?.name ?? 'error'})`, err);
      return;
    }
    b.records++;
    b.bytes += size;
    b.lastOffset = offset;
    b.lastAddAt = Date.now();
    for (const a of o.acks) b.acks.push(a);
    const full = rollAfter(b, cfg);
    if (full) closeBatch(st, full);
  }

  function drainPending(st: PartitionState): void {
    const queue = st.pending ?? [];
    st.pending = undefined;
    for (let i = 0; i < queue.length; i++) {
      // place() may have started another directory listing: the rest waits behind it.
      const waiting = st.pending as Output[] | undefined;
      if (waiting) {
        st.pending = waiting.concat(queue.slice(i));
        return;
      }
      place(st, queue[i]);
    }
  }

  function rewind(st: PartitionState, offset: bigint): void {
    // The runner re-fetches from the committed offset only after resetting its offset tracking,
    // so the open batch's acks count for nothing now: drop them, rebuild from the re-delivery.
    log.info(
      {
        connector: name,
        topic: st.topic,
        partition: st.partition,
        from: offset.toString(),
        dropped: st.batch?.records ?? 0,
      },
      're-delivery: open batch dropped',
    );
    stats.rewinds++;
    if (st.batch) {
      st.batch = undefined;
      stats.openBatches--;
    }
    st.pending = undefined;
    st.skipThrough = undefined;
    st.listed.clear();
    st.recovering = true;
    st.generation++;
  }

  // --- listing (alignment with objects already in the lake) ----------------------------------

  async function listStarts(prefix: string): Promise<Map<bigint, string>> {
    const starts = new Map<bigint, string>();
    let token: string | undefined;
    do {
      const res = await client!.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const obj of res.Contents ?? []) {
        const parsed = obj.Key ? parseObjectKey(obj.Key) : undefined;
        if (parsed) starts.set(parsed.startOffset, obj.Key!);
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return starts;
  }

  function startListing(st: PartitionState, dir: string, firstOffset: bigint): void {
    const generation = st.generation;
    const recovering = st.recovering;
    const p = withRetry(
      async () => {
        const starts = await listStarts(objectKeyPrefix(dir, st.topic, st.partition));
        let skipThrough: bigint | undefined;
        if (recovering) {
          // The replay may start inside an object written before the commit (a record routed
          // elsewhere, e.g. a DLQ, held the commit back): its records are durable already.
          let before: bigint | undefined;
          for (const s of starts.keys()) if (s < firstOffset && (before === undefined || s > before)) before = s;
          if (before !== undefined) {
            const head = await client!.send(new HeadObjectCommand({ Bucket: bucket, Key: starts.get(before)! }));
            const last = head.Metadata?.['sluice-last-offset'];
            if (last !== undefined && /^\d+$/.test(last) && BigInt(last) >= firstOffset) skipThrough = BigInt(last);
          }
        }
        return { starts, skipThrough };
      },
      {
        retries: cfg.maxRetries,
        initialMs: 250,
        maxMs: 10_000,
        signal: stopRetries.signal,
        onRetry: (err, attempt) => {
          stats.retries++;
          log.warn({ connector: name, dir, attempt, err: String(err) }, 'listing failed; retrying');
        },
      },
    )
      .then(
        ({ starts, skipThrough }) => {
          if (generation !== st.generation || abandoned) return;
          const set = remember(st.listed, dir);
          for (const s of starts.keys()) set.add(s);
          st.recovering = false;
          if (skipThrough !== undefined) {
            st.skipThrough = skipThrough;
            log.info(
              {
                connector: name,
                topic: st.topic,
                partition: st.partition,
                from: firstOffset.toString(),
                through: skipThrough.toString(),
              },
              'replay starts inside an existing object; acknowledging its records',
            );
          }
          drainPending(st);
        },
        (err) => {
          if (generation !== st.generation) return;
          const pending = st.pending ?? [];
          st.pending = undefined;
          log.error(
            { connector: name, code: 'SLUICE_ERR_S3_REQUEST_FAILED', dir, err: String(err) },
            'cannot list the lake directory',
          );
          for (const o of pending) failOutput(o, err, 'S3_REQUEST_FAILED');
        },
      )
      .catch((err: unknown) => {
        log.error({ connector: name, err: String(err) }, 'placing records after a listing failed');
      });
    listings.add(p);
    void p.finally(() => listings.delete(p));
  }

  // --- uploads ------------------------------------------------------------------------------

  async function acquireSlot(): Promise<void> {
    if (freeSlots > 0) {
      freeSlots--;
      return;
    }
    await new Promise<void>((resolve) => slotWaiters.push(resolve));
  }

  function releaseSlot(): void {
    const next = slotWaiters.shift();
    if (next) next();
    else freeSlots++;
  }

  function* objectChunks(b: Batch): Generator<Buffer> {
    if (cfg.format === 'jsonl.gz') {
      // Concatenated gzip members are one valid gzip stream.
      yield* b.blocks;
      return;
    }
    const schemaId = ctx.schemaIds.get(b.schema);
    yield avroContainerHeader(
      writerFor(b.schema).json,
      cfg.avroCodec,
      {
        'sluice.topic': b.topic,
        'sluice.partition': String(b.partition),
        'sluice.first.offset': b.startOffset.toString(),
        'sluice.last.offset': b.lastOffset.toString(),
        'sluice.zone': cfg.zone,
        ...(schemaId !== undefined ? { 'sluice.schema.id': String(schemaId) } : {}),
      },
      b.sync,
    );
    yield* b.blocks;
  }

  async function uploadOnce(b: Batch): Promise<number> {
    let bytes = 0;
    const counted = function* () {
      for (const c of objectChunks(b)) {
        bytes += c.length;
        yield c;
      }
    };
    const upload = new Upload({
      client: client!,
      params: {
        Bucket: bucket,
        Key: b.key,
        Body: Readable.from(counted(), { objectMode: false }),
        ContentType: cfg.format === 'avro' ? 'application/avro' : 'application/gzip',
        Metadata: {
          'sluice-first-offset': b.startOffset.toString(),
          'sluice-last-offset': b.lastOffset.toString(),
          'sluice-records': String(b.records),
          'sluice-topology': ctx.topology,
        },
      },
      partSize: cfg.partSize,
      queueSize: cfg.queueSize,
      // On failure lib-storage aborts the multipart upload: no orphaned parts.
      leavePartsOnError: false,
    });
    activeUploads.add(upload);
    try {
      await upload.done();
    } finally {
      activeUploads.delete(upload);
    }
    return bytes;
  }

  function upload(b: Batch, reason: RollReason): Promise<void> {
    const closedAt = process.hrtime.bigint();
    const run = async () => {
      await acquireSlot();
      stats.uploadsInFlight++;
      try {
        const bytes = await withRetry(() => uploadOnce(b), {
          retries: cfg.maxRetries,
          initialMs: 250,
          maxMs: 10_000,
          signal: stopRetries.signal,
          retriable: () => !abandoned,
          onRetry: (err, attempt) => {
            stats.retries++;
            log.warn({ connector: name, key: b.key, attempt, err: String(err) }, 'upload failed; retrying (same name)');
          },
        });
        const seconds = Number(process.hrtime.bigint() - closedAt) / 1e9;
        stats.batches++;
        stats.bytes += bytes;
        stats.rows += b.records;
        stats.lastFlushAt = Date.now();
        const fs = stats.flushSeconds;
        fs.count++;
        fs.sum += seconds;
        fs.buckets.forEach((le, i) => {
          if (seconds <= le) fs.counts[i]++;
        });
        if (recentFlushSeconds.length < 10_000) recentFlushSeconds.push(seconds);
        log.debug({ connector: name, key: b.key, records: b.records, bytes, reason, seconds }, 'object written');
        for (const a of b.acks) a.release();
      } catch (err) {
        if (abandoned) return; // shutdown deadline: the records stay uncommitted and are re-delivered
        stats.failures++;
        const e = asSluiceError(err, 'S3_REQUEST_FAILED', {
          coordinates: { topic: b.topic, partition: b.partition, offset: b.startOffset.toString() },
          details: { key: b.key },
        });
        log.error({ connector: name, err: e.toJSON() }, 'upload failed for good; records not committed');
        for (const a of b.acks) a.fail(e);
      } finally {
        stats.uploadsInFlight--;
        releaseSlot();
        b.blocks = [];
      }
    };
    // One name, one writer at a time: a replayed batch never lands before an older upload of it.
    const p = (keyChains.get(b.key) ?? Promise.resolve()).then(run);
    keyChains.set(b.key, p);
    void p.finally(() => {
      if (keyChains.get(b.key) === p) keyChains.delete(b.key);
    });
    return p;
  }

  // --- stale multipart uploads ----------------------------------------------------------------

  async function abortUploads(
    prefix: string,
    shouldAbort: (key: string, initiated: number) => boolean,
  ): Promise<number> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const res = await client!.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !shouldAbort(u.Key, u.Initiated?.getTime() ?? 0)) continue;
        await client!.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted++;
      }
      if (!res.IsTruncated) break;
      keyMarker = res.NextKeyMarker;
      uploadIdMarker = res.NextUploadIdMarker;
    }
    stats.staleUploadsAborted += aborted;
    return aborted;
  }

  /** A killed predecessor's incomplete uploads of this partition (begun before we connected). */
  async function sweepPartitionUploads(st: PartitionState): Promise<void> {
    const marker = `/${st.topic}+${st.partition}+`;
    const before = connectedAt - STALE_MARGIN_MS;
    try {
      const n = await abortUploads(
        `${cfg.zone}/${st.topic}/`,
        (key, initiated) => key.includes(marker) && initiated < before,
      );
      if (n)
        log.info(
          { connector: name, topic: st.topic, partition: st.partition, aborted: n },
          'aborted incomplete uploads of a previous run',
        );
    } catch (err) {
      log.warn(
        { connector: name, topic: st.topic, partition: st.partition, err: String(err) },
        'could not sweep incomplete uploads',
      );
    }
  }

  // --- lifecycle ----------------------------------------------------------------------------

  function checkIdle(): void {
    const now = Date.now();
    for (const st of partitions.values()) {
      if (st.batch && !st.pending && now - st.batch.lastAddAt >= cfg.idleCloseMs) closeBatch(st, 'idle');
    }
  }

  async function flush(): Promise<void> {
    const failuresBefore = stats.failures;
    for (let round = 0; round < 10; round++) {
      if (listings.size) await Promise.allSettled([...listings]);
      for (const st of partitions.values()) if (st.batch && !st.pending) closeBatch(st, 'flush');
      const snapshot = [...uploads];
      if (snapshot.length) await Promise.allSettled(snapshot);
      if (!listings.size && ![...partitions.values()].some((st) => st.batch || st.pending)) break;
    }
    if (stats.failures > failuresBefore)
      throw new SluiceError(
        'S3_REQUEST_FAILED',
        `${name}: ${stats.failures - failuresBefore} batch(es) could not be written`,
      );
  }

  const connector: S3SinkConnector = {
    name,
    stats,
    config: cfg,
    connect() {
      connecting ??= (async () => {
        const sluice = deps.config ?? ctx.config ?? loadConfig();
        bucket = cfg.bucket || sluice.s3Bucket;
        if (deps.client) client = deps.client;
        else {
          client = createS3Client(sluice);
          ownsClient = true;
        }
        try {
          await withRetry(() => client!.send(new HeadBucketCommand({ Bucket: bucket })), {
            retries: 3,
            initialMs: 250,
            maxMs: 2000,
          });
        } catch (err) {
          throw new SluiceError(
            'S3_REQUEST_FAILED',
            `${name}: bucket ${bucket} is not reachable: ${(err as Error).message}`,
            { cause: err },
          );
        }
        connectedAt = Date.now();
        if (cfg.staleUploadAgeMs > 0) {
          const before = connectedAt - cfg.staleUploadAgeMs;
          const n = await abortUploads(`${cfg.zone}/`, (_key, initiated) => initiated < before).catch((err) => {
            log.warn({ connector: name, err: String(err) }, 'could not sweep stale uploads');
            return 0;
          });
          if (n) log.info({ connector: name, aborted: n }, 'aborted stale incomplete uploads');
        }
        if (cfg.idleCloseMs > 0) {
          idleTimer = setInterval(checkIdle, Math.max(50, Math.min(1000, Math.floor(cfg.idleCloseMs / 4))));
          idleTimer.unref();
        }
        log.info(
          { connector: name, topology: ctx.topology, bucket, zone: cfg.zone, format: cfg.format },
          'S3 sink connected',
        );
      })();
      return connecting;
    },

    add(o) {
      if (!client || closed || closing) {
        failOutput(
          o,
          new SluiceError('INTERNAL', `${name}: add() ${closed || closing ? 'after close()' : 'before connect()'}`),
        );
        return;
      }
      if (!o.source) {
        failOutput(
          o,
          new SluiceError(
            'INTERNAL',
            `${name}: output for ${o.topic} carries no source record; the S3 sink names objects by it`,
          ),
        );
        return;
      }
      const st = state(o.source.topic, o.source.partition);
      const offset = BigInt(o.source.offset);
      if (st.lastOffset !== undefined && offset <= st.lastOffset) rewind(st, offset);
      st.lastOffset = offset;
      if (st.pending) {
        st.pending.push(o);
        return;
      }
      place(st, o);
    },

    flush,

    async close(deadlineMs) {
      if (closed) return;
      closing = true;
      clearInterval(idleTimer);
      const finished = flush().then(
        () => true,
        () => true,
      );
      const inTime = await Promise.race([finished, sleep(deadlineMs, false, { ref: false })]);
      if (!inTime) {
        abandoned = true;
        stopRetries.abort();
        log.warn(
          { connector: name, uploads: activeUploads.size },
          'close deadline passed; aborting uploads (their records stay uncommitted)',
        );
        await Promise.allSettled([...activeUploads].map((u) => u.abort()));
        await Promise.race([Promise.allSettled([...uploads]), sleep(2000, undefined, { ref: false })]);
      }
      closed = true;
      if (ownsClient) client?.destroy();
    },

    onWatermark(topic, partition, watermark) {
      const st = partitions.get(`${topic}/${partition}`);
      if (st?.batch && !st.pending && (st.batch.bucket + 1) * cfg.rollEventTimeMs <= watermark)
        closeBatch(st, 'watermark');
    },

    drainFlushSeconds() {
      const out = recentFlushSeconds;
      recentFlushSeconds = [];
      return out;
    },
  };
  return connector;
}
