import type { RollReason } from './rollRules.ts';

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
  /**
   * Records no object can hold (their value does not match the writer schema) handed to
   * `<source>.dlq`, reason `sink`.
   */
  deadLettered: number;
  /** Re-deliveries seen (offset not above the last one of its partition). */
  rewinds: number;
  staleUploadsAborted: number;
}

const FLUSH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** Zeroed counters of a new connector. */
export function emptyS3SinkStats(): S3SinkStats {
  return {
    batches: 0,
    bytes: 0,
    rows: 0,
    retries: 0,
    failures: 0,
    lastFlushAt: null,
    flushSeconds: { buckets: FLUSH_BUCKETS, counts: FLUSH_BUCKETS.map(() => 0), sum: 0, count: 0 },
    rolls: { records: 0, bytes: 0, 'event-time': 0, aligned: 0, schema: 0, idle: 0, flush: 0 },
    openBatches: 0,
    uploadsInFlight: 0,
    skippedRecords: 0,
    deadLettered: 0,
    rewinds: 0,
    staleUploadsAborted: 0,
  };
}

/** Counts one object made durable: `seconds` from its batch's close to the end of its upload. */
export function countObjectWritten(stats: S3SinkStats, object: { bytes: number; records: number; seconds: number }) {
  stats.batches++;
  stats.bytes += object.bytes;
  stats.rows += object.records;
  stats.lastFlushAt = Date.now();
  const fs = stats.flushSeconds;
  fs.count++;
  fs.sum += object.seconds;
  fs.buckets.forEach((le, i) => {
    if (object.seconds <= le) fs.counts[i]++;
  });
}
