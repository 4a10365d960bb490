import type { Ack, SourceRecord } from '../../src/topology/types.ts';
import { syncMarker } from './avroContainer.ts';
import { BlockBuffer } from './blockBuffer.ts';
import type { S3SinkConfig } from './config.ts';
import { extensionOf, objectKeyPrefix } from './layout.ts';
import { type BatchShape, nextKnownStart } from './rollRules.ts';

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
  body: BlockBuffer;
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
  cfg: Pick<S3SinkConfig, 'format' | 'avroCodec'>,
  src: SourceRecord,
  at: { dir: string; bucket: number; schema: string; known: bigint[] },
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
    body: new BlockBuffer(cfg, sync),
    sync,
    acks: [],
    lastAddAt: Date.now(),
  };
}
