import type avro from 'avsc';
import { SluiceError, isSluiceError, type RecordCoordinates } from '../core/errors.ts';
import type { RegistryClient } from './schemaRegistry.ts';
import { checkAvroBytes } from './avroGuard.ts';
import { frame, unframe } from './wireFormat.ts';

/**
 * Avro values in the Confluent wire format. Decoding never throws anything but a SluiceError
 * with a SERDE_* code, or REGISTRY_UNAVAILABLE (retriable: such a record must wait, not go to
 * the DLQ). Malformed bytes become DLQ records, not crashes.
 *
 * Pipelines decode synchronously (`decodeSync`) so that acknowledgements stay exact; the
 * runner first calls `prepare` once per batch to fetch any schema id it has not seen.
 */
export interface DecodedValue {
  schemaId: number;
  value: unknown;
  type: avro.Type;
  /** Fields marked "sluice.pii" were masked in `value` (see pii/piiMaskingSerde.ts). */
  piiMasked?: boolean;
}

export interface AvroSerde {
  encode(schemaId: number, value: unknown): Promise<Buffer>;
  encodeSync(schemaId: number, value: unknown): Buffer;
  decode(value: Buffer | null, coordinates?: RecordCoordinates, reader?: avro.Type): Promise<DecodedValue>;
  /** Resolves the schema ids of these values (unknown ids are remembered as unknown). */
  prepare(values: Iterable<Buffer | null>): Promise<void>;
  /** Resolves these schema ids (ones just registered, before encodeSync/decodeSync use them). */
  prepareIds(ids: Iterable<number>): Promise<void>;
  decodeSync(value: Buffer | null, coordinates?: RecordCoordinates, reader?: avro.Type): DecodedValue;
}

/** How long an id the registry did not know stays "unknown" before it is asked again. */
const UNKNOWN_ID_TTL_MS = 30_000;

/** Resolvers per reader and writer type: building one walks both schemas, so it is done once. */
type Resolvers = WeakMap<avro.Type, WeakMap<avro.Type, avro.Resolver>>;

/**
 * The Avro serde over `registry`: encodes and decodes framed values, resolving schema ids
 * through the registry once each (unknown ids are asked again after 30 s).
 *
 * @example
 *   const serde = createAvroSerde(createRegistryClient(cfg), { maxMessageBytes: cfg.maxMessageBytes });
 *   const { value } = await serde.decode(message.value);
 */
export function createAvroSerde(registry: RegistryClient, opts: { maxMessageBytes: number }): AvroSerde {
  const types = new Map<number, avro.Type>();
  const unknown = new Map<number, number>();
  const resolvers: Resolvers = new WeakMap();

  function typeOf(schemaId: number): avro.Type {
    const type = types.get(schemaId);
    if (!type) throw new SluiceError('INTERNAL', `schema id ${schemaId} used before being prepared`);
    return type;
  }

  async function fetch(schemaId: number): Promise<void> {
    if (types.has(schemaId)) return;
    const at = unknown.get(schemaId);
    if (at !== undefined && Date.now() - at < UNKNOWN_ID_TTL_MS) return;
    try {
      types.set(schemaId, await registry.typeForId(schemaId));
      unknown.delete(schemaId);
    } catch (err) {
      if (isSluiceError(err, 'SERDE_UNKNOWN_SCHEMA')) unknown.set(schemaId, Date.now());
      else throw err;
    }
  }

  function schemaIdOf(raw: Buffer | null): number | undefined {
    return raw && raw.length >= 5 && raw.length <= opts.maxMessageBytes && raw[0] === 0
      ? raw.readUInt32BE(1)
      : undefined;
  }

  const serde: AvroSerde = {
    async encode(schemaId, value) {
      await fetch(schemaId);
      if (!types.has(schemaId))
        throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${schemaId} is not in the registry`);
      return serde.encodeSync(schemaId, value);
    },
    encodeSync: (schemaId, value) => encodeWith(typeOf(schemaId), schemaId, value),
    async prepare(values) {
      const ids = new Set<number>();
      for (const v of values) {
        const id = schemaIdOf(v);
        if (id !== undefined) ids.add(id);
      }
      await serde.prepareIds(ids);
    },
    async prepareIds(ids) {
      await Promise.all([...new Set(ids)].filter((id) => !types.has(id)).map(fetch));
    },
    async decode(raw, coordinates, reader) {
      await serde.prepare([raw]);
      return serde.decodeSync(raw, coordinates, reader);
    },
    decodeSync(raw, coordinates, reader) {
      const { schemaId, body } = unframeChecked(raw, opts.maxMessageBytes, coordinates);
      const writer = types.get(schemaId);
      if (!writer)
        throw new SluiceError('SERDE_UNKNOWN_SCHEMA', `schema id ${schemaId} is not in the registry`, {
          coordinates,
          details: { schemaId },
        });
      // Walk the bytes against the schema first: avsc trusts lengths and block counts, so a few
      // crafted bytes could otherwise make it allocate or loop far beyond the buffer.
      checkAvroBytes(writer, body, coordinates, schemaId);
      return decodeWith(resolvers, { schemaId, writer, reader }, body, coordinates);
    },
  };
  return serde;
}

function encodeWith(type: avro.Type, schemaId: number, value: unknown): Buffer {
  try {
    return frame(schemaId, type.toBuffer(value));
  } catch {
    // Only a failed write pays for finding the offending paths (validating first would double every write).
    const errors: string[] = [];
    type.isValid(value, { errorHook: (path) => errors.push(path.join('.') || '(root)') });
    throw new SluiceError(
      'SERDE_ENCODE_FAILED',
      `value does not match schema id ${schemaId} at ${errors.slice(0, 5).join(', ') || '(root)'}`,
      { details: { schemaId, paths: errors.slice(0, 5) } },
    );
  }
}

/** The schema id and Avro body of `raw`, refusing a tombstone and an oversized value. */
function unframeChecked(raw: Buffer | null, maxMessageBytes: number, coordinates?: RecordCoordinates) {
  if (raw === null)
    throw new SluiceError('SERDE_BAD_MAGIC', 'value is null (tombstone) where an Avro record is expected', {
      coordinates,
    });
  if (raw.length > maxMessageBytes) {
    throw new SluiceError('SERDE_TOO_LARGE', `value is ${raw.length} bytes, over the ${maxMessageBytes}-byte limit`, {
      coordinates,
      details: { bytes: raw.length },
    });
  }
  return unframe(raw, coordinates);
}

/** Decodes a checked body with its writer type, resolved to `reader` when one is given. */
function decodeWith(
  resolvers: Resolvers,
  { schemaId, writer, reader }: { schemaId: number; writer: avro.Type; reader?: avro.Type },
  body: Buffer,
  coordinates?: RecordCoordinates,
): DecodedValue {
  try {
    if (reader && reader !== writer) {
      const value = reader.fromBuffer(body, resolverFor(resolvers, reader, writer, schemaId, coordinates), true);
      return { schemaId, value, type: reader };
    }
    const { value, offset } = writer.decode(body, 0);
    if (offset < 0)
      throw new SluiceError('SERDE_TRUNCATED', `value ends before its schema (id ${schemaId}) is complete`, {
        coordinates,
        details: { schemaId },
      });
    return { schemaId, value, type: writer };
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(
      'SERDE_INVALID_DATA',
      `value does not decode with schema id ${schemaId}: ${(err as Error).message}`,
      { coordinates, cause: err, details: { schemaId } },
    );
  }
}

function resolverFor(
  resolvers: Resolvers,
  reader: avro.Type,
  writer: avro.Type,
  schemaId: number,
  coordinates?: RecordCoordinates,
): avro.Resolver {
  let byWriter = resolvers.get(reader);
  if (!byWriter) {
    byWriter = new WeakMap();
    resolvers.set(reader, byWriter);
  }
  let r = byWriter.get(writer);
  if (!r) {
    try {
      r = reader.createResolver(writer);
    } catch (err) {
      const expected = reader.name ?? 'the expected schema';
      throw new SluiceError(
        'SERDE_SCHEMA_MISMATCH',
        `writer schema id ${schemaId} cannot be read as ${expected}: ${(err as Error).message}`,
        { coordinates, cause: err, details: { schemaId } },
      );
    }
    byWriter.set(writer, r);
  }
  return r;
}
