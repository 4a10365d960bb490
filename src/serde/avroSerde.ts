import type avro from 'avsc';
import { SluiceError, isSluiceError, type RecordCoordinates } from '../core/errors.ts';
import type { RegistryClient } from './schemaRegistry.ts';
import { checkAvroBytes } from './avroGuard.ts';
import { frame, unframe } from './wireFormat.ts';

/**
 * Avro values in the Confluent wire format. Decoding never throws anything but a SluiceError
 * with a SERDE_* code (or REGISTRY_UNAVAILABLE, which is retriable and must not send a record
 * to the DLQ): malformed bytes become DLQ records, not crashes.
 */
export interface AvroSerde {
  encode(schemaId: number, value: unknown): Promise<Buffer>;
  decode(value: Buffer | null, coordinates?: RecordCoordinates): Promise<{ schemaId: number; value: unknown; type: avro.Type }>;
}

export function createAvroSerde(registry: RegistryClient, opts: { maxMessageBytes: number }): AvroSerde {
  return {
    async encode(schemaId, value) {
      const type = await registry.typeForId(schemaId);
      const errors: string[] = [];
      if (!type.isValid(value, { errorHook: (path) => errors.push(path.join('.') || '(root)') })) {
        throw new SluiceError('SERDE_ENCODE_FAILED', `value does not match schema id ${schemaId} at ${errors.slice(0, 5).join(', ')}`, { details: { schemaId, paths: errors.slice(0, 5) } });
      }
      return frame(schemaId, type.toBuffer(value));
    },
    async decode(raw, coordinates) {
      if (raw === null) throw new SluiceError('SERDE_BAD_MAGIC', 'value is null (tombstone) where an Avro record is expected', { coordinates });
      if (raw.length > opts.maxMessageBytes) {
        throw new SluiceError('SERDE_TOO_LARGE', `value is ${raw.length} bytes, over the ${opts.maxMessageBytes}-byte limit`, { coordinates, details: { bytes: raw.length } });
      }
      const { schemaId, body } = unframe(raw, coordinates);
      let type: avro.Type;
      try {
        type = await registry.typeForId(schemaId);
      } catch (err) {
        if (isSluiceError(err, 'SERDE_UNKNOWN_SCHEMA')) throw new SluiceError('SERDE_UNKNOWN_SCHEMA', err.message, { coordinates, details: { schemaId } });
        throw err;
      }
      // Walk the bytes against the schema first: avsc trusts lengths and block counts, so a few
      // crafted bytes could otherwise make it allocate or loop far beyond the buffer.
      checkAvroBytes(type, body, coordinates, schemaId);
      try {
        const { value, offset } = type.decode(body, 0);
        if (offset < 0) throw new SluiceError('SERDE_TRUNCATED', `value ends before its schema (id ${schemaId}) is complete`, { coordinates, details: { schemaId } });
        return { schemaId, value, type };
      } catch (err) {
        if (err instanceof SluiceError) throw err;
        throw new SluiceError('SERDE_INVALID_DATA', `value does not decode with schema id ${schemaId}: ${(err as Error).message}`, { coordinates, cause: err, details: { schemaId } });
      }
    },
  };
}
