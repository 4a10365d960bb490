import { SluiceError, type RecordCoordinates } from '../core/errors.ts';

/**
 * Confluent wire format: magic byte 0, a 4-byte big-endian schema id, then the Avro binary body.
 */
export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  body.copy(out, HEADER_SIZE);
  return out;
}

export function unframe(value: Buffer, coordinates?: RecordCoordinates): { schemaId: number; body: Buffer } {
  if (value.length === 0 || value[0] !== MAGIC_BYTE) {
    throw new SluiceError(
      'SERDE_BAD_MAGIC',
      value.length === 0
        ? 'empty value: no Confluent wire-format header'
        : `magic byte is ${value[0]}, expected 0 (not Confluent wire format)`,
      { coordinates },
    );
  }
  if (value.length < HEADER_SIZE) {
    throw new SluiceError(
      'SERDE_TRUNCATED',
      `value is ${value.length} bytes, shorter than the 5-byte wire-format header`,
      { coordinates },
    );
  }
  return { schemaId: value.readUInt32BE(1), body: value.subarray(HEADER_SIZE) };
}
