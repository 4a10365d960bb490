import { createHash } from 'node:crypto';

/**
 * The pieces of an Avro object container file (Avro spec, "Object Container Files"): header,
 * sync marker and block framing. The sink streams an object as header + finished blocks, so it
 * never holds a whole file in one buffer.
 */

/** Length of the sync marker that ends the header and every block. */
export const SYNC_BYTES = 16;

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

/**
 * Header of an Avro object container file (magic, metadata map, sync marker).
 *
 * @example avroContainerHeader(JSON.stringify(schema), 'null', { 'sluice.zone': 'raw' }, syncMarker(key))
 */
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

/** A block as it goes into the file: record count, byte size, the (compressed) records, the sync marker. */
export function avroBlock(count: number, data: Buffer, sync: Buffer): Buffer {
  return Buffer.concat([avroLong(count), avroLong(data.length), data, sync]);
}

/** The 16-byte sync marker of an object: derived from its key, so a rewrite is byte-identical. */
export function syncMarker(key: string): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, SYNC_BYTES);
}
