import { z } from 'zod';
import { SluiceError } from '../../src/core/errors.ts';

const MiB = 1024 * 1024;
const HOUR_MS = 3_600_000;

/** Lake zones, the first path segment of every object. */
export const S3_SINK_ZONES = ['raw', 'staging', 'quarantine'] as const;
/** A lake zone: `raw`, `staging` or `quarantine`. */
export type S3Zone = (typeof S3_SINK_ZONES)[number];
/** Object formats the sink writes. */
export const S3_SINK_FORMATS = ['avro', 'jsonl.gz', 'parquet'] as const;
/** An object format: Avro container file, gzipped JSON lines or Parquet. */
export type S3Format = (typeof S3_SINK_FORMATS)[number];

/**
 * Configuration of the S3 lake sink (`sink.ts`). The schema is at once validation,
 * documentation and example: every field says what it does and what it defaults to.
 *
 * @example
 *   s3Sink({ zone: 'raw' })                                   // every default
 *   s3Sink({ zone: 'staging', format: 'jsonl.gz', rollRecords: 50_000, idleCloseMs: 60_000 })
 *   s3Sink({ zone: 'staging', format: 'parquet', parquetCodec: 'snappy' })
 */
export const s3SinkConfigSchema = z
  .object({
    name: z.string().default('').describe('Connector name in logs and metrics; empty: `s3-<zone>`.'),
    zone: z
      .enum(S3_SINK_ZONES)
      .default('raw')
      .describe(
        'Lake zone, the first path segment: `raw` (every source record, original bytes), `staging` (validated ' +
          'records, decoded and written with their own schema), `quarantine` (DLQ records, original bytes).',
      ),
    format: z
      .enum(S3_SINK_FORMATS)
      .default('avro')
      .describe(
        'Object format: `avro` (Avro object container file), `jsonl.gz` (gzipped JSON lines) or `parquet` ' +
          '(typed columns from the writer schema; see parquetSchema.ts).',
      ),
    avroCodec: z
      .enum(['null', 'deflate'])
      .default('null')
      .describe('Block codec of Avro container files (`null` or `deflate`); ignored for the other formats.'),
    parquetCodec: z
      .enum(['zstd', 'snappy', 'uncompressed'])
      .default('zstd')
      .describe('Page compression of Parquet objects (`zstd`, `snappy` or `uncompressed`); ignored for the others.'),
    parquetRowGroupRows: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe('A Parquet row group closes once it holds this many records (or parquetRowGroupBytes).'),
    parquetRowGroupBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(8 * MiB)
      .describe(
        'A Parquet row group closes once its records, Avro-encoded, reach this many bytes. An open Parquet object ' +
          'holds its finished (compressed) row groups plus at most this much (about twice, while growing).',
      ),
    bucket: z.string().default('').describe('Bucket; empty: SLUICE_S3_BUCKET.'),
    rollRecords: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe(
        'Close a batch once it holds this many records. The runner lets twice this (and twice rollBytes) be in ' +
          'flight per partition, whatever SLUICE_MAX_IN_FLIGHT_RECORDS says, so a batch can fill.',
      ),
    rollBytes: z
      .number()
      .int()
      .positive()
      .default(16 * MiB)
      .describe('Close a batch once its encoded records (before compression) reach this many bytes.'),
    rollEventTimeMs: z
      .number()
      .int()
      .positive()
      .max(HOUR_MS)
      .refine((v) => HOUR_MS % v === 0, 'must divide one hour evenly (an object never spans two hours of event time)')
      .default(HOUR_MS)
      .describe(
        'Event-time span of one object: a record whose Kafka timestamp falls in another span of this length closes ' +
          'the batch. Divides an hour, so an object never spans two hour directories.',
      ),
    idleCloseMs: z
      .number()
      .int()
      .min(0)
      .default(30_000)
      .describe(
        "Close a partition's open batch when no record arrived for this long (wall clock), so sparse topics still " +
          'land; 0 disables. Such boundaries are not reproducible, which is safe: see "Exactly once" in sink.ts.',
      ),
    partSize: z
      .number()
      .int()
      .min(5 * MiB)
      .default(5 * MiB)
      .describe(
        'Multipart part size in bytes (S3 minimum 5 MiB). Memory of one upload is about partSize × (queueSize + 1).',
      ),
    queueSize: z.number().int().min(1).max(16).default(2).describe('Parts of one object uploaded concurrently.'),
    maxConcurrentUploads: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(2)
      .describe(
        'Objects this connector uploads at once; more closed batches wait their turn. Bounds upload memory to ' +
          'maxConcurrentUploads × partSize × (queueSize + 1).',
      ),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .default(5)
      .describe(
        'Retries of a failed upload (backoff with jitter; the retry rewrites the same object name). After the last ' +
          "one the batch's records are failed and the runner stops without committing them.",
      ),
    staleUploadAgeMs: z
      .number()
      .int()
      .min(0)
      .default(24 * HOUR_MS)
      .describe(
        'At connect, abort incomplete multipart uploads under `<zone>/` initiated longer ago than this (0: never). ' +
          "Independently, the first record of each partition aborts that partition's uploads begun before this " +
          "connector started (a killed predecessor's).",
      ),
  })
  .strict();

/** The validated configuration, every default applied. */
export type S3SinkConfig = z.output<typeof s3SinkConfigSchema>;
/** What callers pass: every field optional. */
export type S3SinkConfigInput = z.input<typeof s3SinkConfigSchema>;

/** Validates a sink configuration; CONFIG_INVALID naming every bad field otherwise (before any I/O). */
export function parseS3SinkConfig(input: unknown): S3SinkConfig {
  const parsed = s3SinkConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new SluiceError('CONFIG_INVALID', `invalid S3 sink configuration: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return parsed.data;
}
