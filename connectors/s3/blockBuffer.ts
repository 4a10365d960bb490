import { deflateRawSync, gzipSync } from 'node:zlib';
import { avroBlock, avroLong, SYNC_BYTES } from './avroContainer.ts';
import type { S3SinkConfig } from './config.ts';

/** Records are grouped into container blocks (or gzip members) of about this many bytes. */
export const BLOCK_BYTES = 64 * 1024;
/** Room in front of a block's records for its two varints (count, size), so framing never copies. */
const BLOCK_HEAD = 20;
/** A block buffer holds BLOCK_BYTES plus this much overshoot; a larger record gets a block of its own. */
const BLOCK_SLACK = 16 * 1024;

/** The block being filled: records encoded in place after BLOCK_HEAD; `body` ends SYNC_BYTES early. */
interface OpenBlock {
  buf: Buffer;
  body: Buffer;
  pos: number;
  count: number;
}

/**
 * Writes a record into `body` at `pos`: returns the new position, or minus the bytes missing when
 * the record does not fit (avsc's `Type.encode` convention).
 */
export type EncodeInto = (body: Buffer, pos: number) => number;

/**
 * The encoded records of one batch, as the blocks of its object: framed Avro blocks (uncompressed
 * or deflated) or gzip members (concatenated members are one valid gzip stream). Records are
 * encoded straight into the block buffer, so memory holds each record once.
 *
 * @example
 *   const body = new BlockBuffer({ format: 'avro', avroCodec: 'null' }, syncMarker(key));
 *   body.append((buf, pos) => type.encode(value, buf, pos));
 *   body.close(); // body.blocks now go into the object after its header
 */
export class BlockBuffer {
  /** Finished blocks exactly as they go into the object. */
  blocks: Buffer[] = [];
  private open: OpenBlock | undefined;
  private readonly packing: Pick<S3SinkConfig, 'format' | 'avroCodec'>;
  private readonly sync: Buffer;

  constructor(packing: Pick<S3SinkConfig, 'format' | 'avroCodec'>, sync: Buffer) {
    this.packing = packing;
    this.sync = sync;
  }

  /** Appends one record to the open block; returns its encoded size. Throws what `encode` throws. */
  append(encode: EncodeInto): number {
    for (;;) {
      const blk = (this.open ??= newBlock(BLOCK_BYTES + BLOCK_SLACK));
      const end = encode(blk.body, blk.pos);
      if (end >= 0) {
        const size = end - blk.pos;
        blk.pos = end;
        blk.count++;
        if (blk.pos - BLOCK_HEAD >= BLOCK_BYTES) this.seal();
        return size;
      }
      if (blk.count > 0)
        this.seal(); // full: the record opens the next block
      else this.open = newBlock(blk.body.length - BLOCK_HEAD - end + BLOCK_SLACK); // a record larger than a block
    }
  }

  /** Seals the last block and lets go of the buffer it was encoded in. */
  close(): void {
    this.seal();
    this.open = undefined;
  }

  /** Drops the finished blocks (once the object is written, or given up). */
  release(): void {
    this.blocks = [];
  }

  /** Seals the open block into its final bytes (framed and synced, or compressed). */
  private seal(): void {
    const blk = this.open;
    if (!blk?.count) return;
    const records = blk.buf.subarray(BLOCK_HEAD, blk.pos);
    const { format, avroCodec } = this.packing;
    if (format === 'jsonl.gz' || avroCodec === 'deflate') {
      this.blocks.push(
        format === 'jsonl.gz' ? gzipSync(records) : avroBlock(blk.count, deflateRawSync(records), this.sync),
      );
      blk.pos = BLOCK_HEAD; // the compressed copy is kept: reuse the buffer
      blk.count = 0;
      return;
    }
    // Uncompressed Avro: frame in place — the varints go into the room before the records.
    const head = Buffer.concat([avroLong(blk.count), avroLong(records.length)]);
    head.copy(blk.buf, BLOCK_HEAD - head.length);
    this.sync.copy(blk.buf, blk.pos);
    this.blocks.push(blk.buf.subarray(BLOCK_HEAD - head.length, blk.pos + SYNC_BYTES));
    this.open = undefined;
  }
}

function newBlock(capacity: number): OpenBlock {
  // Not from the shared pool: a block outlives the call, and a pooled view would pin its slab.
  const buf = Buffer.allocUnsafeSlow(BLOCK_HEAD + capacity + SYNC_BYTES);
  return { buf, body: buf.subarray(0, BLOCK_HEAD + capacity), pos: BLOCK_HEAD, count: 0 };
}
