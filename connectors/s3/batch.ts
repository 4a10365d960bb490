import type { Ack, SourceRecord } from '../../src/topology/types.ts';
import { syncMarker } from './avroContainer.ts';
import { BlockBuffer, type EncodeInto } from './blockBuffer.ts';
import type { S3SinkConfig } from './config.ts';
import { extensionOf, objectKeyPrefix } from './layout.ts';
import { ParquetBody, parquetLayoutOf } from './parquetBody.ts';
import { type BatchShape, nextKnownStart } from './rollRules.ts';
import type { WriterSchema } from './writerSchemas.ts';

/** The bytes of one future object, filled record by record: Avro blocks, gzip members, or Parquet row groups. */
export interface ObjectBody {
  /** Finished bytes, in object order. */
  blocks: Buffer[];
  /** Appends one record; returns its encoded size (before compression). */
  append(encode: EncodeInto): number;
  /** Seals the last block (a Parquet body writes its footer with `metadata`). */
  close(metadata?: Record<string, string>): void;
  release(): void;
}

/** An open or uploading batch: the records of one future object and the acks they release. */
export interface Batch extends BatchShape {
  key: string;
  topic: string;
  partition: number;
  dir: string;
  lastOffset: bigint;
  /** Kafka timestamp of the first record: the object's directory. */
  timestamp: number;
  /** The encoded records, as the object's blocks. */
  body: ObjectBody;
  sync: Buffer;
  acks: Ack[];
  /** Wall clock of the last record added, for the idle close. */
  lastAddAt: number;
}

/**
 * An empty batch starting at `src` in directory `dir`. `known` are the start offsets of objects
 * already in that directory: the first one above this batch's start becomes a forced boundary.
 */
export function openBatch(
  cfg: Pick<S3SinkConfig, 'format' | 'avroCodec' | 'parquetCodec' | 'parquetRowGroupRows' | 'parquetRowGroupBytes'>,
  src: SourceRecord,
  at: { dir: string; bucket: number; schema: string; known: bigint[]; writer: WriterSchema },
): Batch {
  const startOffset = BigInt(src.offset);
  const key = `${objectKeyPrefix(at.dir, src.topic, src.partition)}${startOffset}.${extensionOf(cfg.format)}`;
  const sync = syncMarker(key);
  return {
    key,
    topic: src.topic,
    partition: src.partition,
    dir: at.dir,
    startOffset,
    lastOffset: startOffset,
    timestamp: src.timestamp,
    bucket: at.bucket,
    schema: at.schema,
    nextKnownStart: nextKnownStart(at.known, startOffset),
    records: 0,
    bytes: 0,
    body: cfg.format === 'parquet' ? new ParquetBody(parquetLayoutOf(at.writer), cfg) : new BlockBuffer(cfg, sync),
    sync,
    acks: [],
    lastAddAt: Date.now(),
  };
}

/**
 * What an object says about itself (Avro header metadata, Parquet footer key-value metadata):
 * source coordinates, offsets, zone and the writer schema's registry id when known.
 */
export function objectMetadata(b: Batch, zone: string, schemaId: number | undefined): Record<string, string> {
  return {
    'sluice.topic': b.topic,
    'sluice.partition': String(b.partition),
    'sluice.first.offset': b.startOffset.toString(),
    'sluice.last.offset': b.lastOffset.toString(),
    'sluice.zone': zone,
    ...(schemaId !== undefined ? { 'sluice.schema.id': String(schemaId) } : {}),
  };
}
