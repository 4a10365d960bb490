import type { S3SinkConfig } from './config.ts';
import { layoutTime } from './layout.ts';

/**
 * When a batch closes. The deterministic rules (records, bytes, event-time span, writer schema,
 * an existing object starting here) depend only on the batch and the record, so replaying the
 * same records rebuilds the same batches under the same names; `planBatches` is their
 * specification. `idle` and `flush` closes are not reproducible (see "Exactly once" in sink.ts).
 */

/** Index of the event-time span a timestamp falls in; a batch never holds two spans. */
export function eventTimeBucket(timestampMs: number, rollEventTimeMs: number): number {
  return Math.floor(layoutTime(timestampMs) / rollEventTimeMs);
}

/** Why a batch closed (counted per reason in the connector's stats). */
export type RollReason = 'records' | 'bytes' | 'event-time' | 'aligned' | 'schema' | 'idle' | 'flush';

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

/** One record as `planBatches` sees it. */
export interface PlannedRecord {
  offset: bigint;
  timestamp: number;
  bytes: number;
  schema?: string;
}

/** One batch `planBatches` forms. */
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
 *
 * @example planBatches(records, { rollRecords: 100, rollBytes: 1 << 20, rollEventTimeMs: HOUR_MS }, [1200n])
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
    const { startOffset, lastOffset, records, bytes, timestamp } = cur;
    out.push({ startOffset, lastOffset, records, bytes, timestamp, closedBy });
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
