import { isSluiceError } from '../core/errors.ts';
import type { AvroSerde } from '../serde/avroSerde.ts';
import { printableBytes } from './terminalSafe.ts';

/** A value that is not decodable Avro: what went wrong, and the bytes shown safely. */
export interface UndecodableValue {
  undecodable: true;
  /** The stable error code, e.g. SLUICE_ERR_SERDE_BAD_MAGIC. */
  error: string;
  message: string;
  bytes: number;
  bytesBase64: string;
  preview: string;
}

/**
 * Decodes one value for display: Avro through the registry when it can, safe bytes when not.
 * Only serde and registry errors make a value undecodable; anything else is thrown.
 *
 * @example const { value, schemaId } = await decodeForDisplay(serde, record.value, record);
 */
export async function decodeForDisplay(
  serde: AvroSerde,
  value: Buffer | null,
  coords: { topic: string; partition: number; offset: string },
): Promise<{ value: unknown; schemaId?: number }> {
  if (value === null) return { value: null };
  try {
    const decoded = await serde.decode(value, coords);
    return { value: jsonSafe(decoded.value), schemaId: decoded.schemaId };
  } catch (err) {
    if (!isSluiceError(err) || !(err.shortCode.startsWith('SERDE_') || err.shortCode.startsWith('REGISTRY_')))
      throw err;
    const undecodable: UndecodableValue = {
      undecodable: true,
      error: err.code,
      message: err.message,
      bytes: value.length,
      bytesBase64: value.toString('base64'),
      preview: printableBytes(value),
    };
    return { value: undecodable, schemaId: err.details?.schemaId as number | undefined };
  }
}

/** Avro values as plain JSON data: bytes as base64, 64-bit integers as strings. */
function jsonSafe(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return { bytesBase64: v.toString('base64') };
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (typeof v === 'object' && !(v instanceof Date))
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
