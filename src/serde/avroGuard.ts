import type avro from 'avsc';
import { SluiceError, type RecordCoordinates } from '../core/errors.ts';

/**
 * Walks Avro binary data against its writer type without building values, checking every
 * length, block count, union branch and enum index against what the buffer can hold. Only bytes
 * that pass go to avsc, whose decoder trusts counts on the wire (a 4-byte array header can ask it
 * for 2^50 iterations). Cost: one pass, no allocation.
 */

/** Items of zero encoded size (null, empty records) have no length to check against; cap them. */
export const MAX_ZERO_SIZE_ITEMS = 100_000;

interface Cursor {
  pos: number;
}

class GuardFailure extends Error {
  readonly code: 'SERDE_TRUNCATED' | 'SERDE_HOSTILE_LENGTH' | 'SERDE_INVALID_DATA';
  constructor(code: GuardFailure['code'], message: string) {
    super(message);
    this.code = code;
  }
}

const minSizes = new WeakMap<avro.Type, number>();

type AnyType = avro.Type & Record<string, any>;

function kind(type: AnyType): string {
  return type.typeName as string;
}

/** Fewest bytes one value of `type` can take on the wire. */
export function minEncodedSize(type: AnyType, seen: Set<avro.Type> = new Set()): number {
  const cached = minSizes.get(type);
  if (cached !== undefined) return cached;
  if (seen.has(type)) return 0; // recursive type: its recursion point can be a 1-byte union branch
  seen.add(type);
  let size: number;
  const k = kind(type);
  if (type.underlyingType) size = minEncodedSize(type.underlyingType, seen);
  else
    switch (k) {
      case 'null':
        size = 0;
        break;
      case 'float':
        size = 4;
        break;
      case 'double':
        size = 8;
        break;
      case 'fixed':
        size = type.size;
        break;
      case 'record':
      case 'error':
        size = (type.fields as { type: AnyType }[]).reduce((sum, f) => sum + minEncodedSize(f.type, seen), 0);
        break;
      case 'union:unwrapped':
      case 'union:wrapped':
        size = 1 + Math.min(...(type.types as AnyType[]).map((t) => minEncodedSize(t, seen)));
        break;
      default:
        size = 1; // boolean, int, long, string, bytes, enum, array, map
    }
  seen.delete(type);
  minSizes.set(type, size);
  return size;
}

function readLong(buf: Buffer, cur: Cursor): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (cur.pos >= buf.length) throw new GuardFailure('SERDE_TRUNCATED', 'value ends inside a varint');
    const b = buf[cur.pos++];
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2; // zigzag
    scale *= 128;
  }
  throw new GuardFailure('SERDE_INVALID_DATA', 'varint longer than 10 bytes');
}

function need(buf: Buffer, cur: Cursor, n: number, what: string): void {
  if (n > buf.length - cur.pos)
    throw new GuardFailure(
      n > 1 << 20 ? 'SERDE_HOSTILE_LENGTH' : 'SERDE_TRUNCATED',
      `${what} claims ${n} bytes but ${buf.length - cur.pos} remain`,
    );
  cur.pos += n;
}

function walkBlocks(buf: Buffer, cur: Cursor, itemMin: number, perItem: () => void, what: string): void {
  let total = 0;
  for (;;) {
    let count = readLong(buf, cur);
    if (count === 0) return;
    if (count < 0) {
      count = -count;
      const blockBytes = readLong(buf, cur);
      if (blockBytes < 0 || blockBytes > buf.length - cur.pos)
        throw new GuardFailure(
          'SERDE_HOSTILE_LENGTH',
          `${what} block size ${blockBytes} exceeds the ${buf.length - cur.pos} bytes left`,
        );
    }
    total += count;
    if (itemMin > 0 ? count * itemMin > buf.length - cur.pos : total > MAX_ZERO_SIZE_ITEMS) {
      throw new GuardFailure(
        'SERDE_HOSTILE_LENGTH',
        `${what} block count ${count} cannot fit in the ${buf.length - cur.pos} bytes left`,
      );
    }
    for (let i = 0; i < count; i++) perItem();
  }
}

function walk(type: AnyType, buf: Buffer, cur: Cursor): void {
  if (type.underlyingType) {
    walk(type.underlyingType, buf, cur);
    return;
  }
  switch (kind(type)) {
    case 'null':
      return;
    case 'boolean': {
      if (cur.pos >= buf.length) throw new GuardFailure('SERDE_TRUNCATED', 'value ends inside a boolean');
      if (buf[cur.pos] > 1)
        throw new GuardFailure('SERDE_INVALID_DATA', `boolean byte ${buf[cur.pos]} is neither 0 nor 1`);
      cur.pos++;
      return;
    }
    case 'int': {
      const v = readLong(buf, cur);
      if (v > 2147483647 || v < -2147483648) throw new GuardFailure('SERDE_INVALID_DATA', `int out of range: ${v}`);
      return;
    }
    case 'long':
      readLong(buf, cur);
      return;
    case 'float':
      need(buf, cur, 4, 'float');
      return;
    case 'double':
      need(buf, cur, 8, 'double');
      return;
    case 'fixed':
      need(buf, cur, type.size, 'fixed');
      return;
    case 'string':
    case 'bytes': {
      const len = readLong(buf, cur);
      if (len < 0) throw new GuardFailure('SERDE_INVALID_DATA', `negative ${kind(type)} length ${len}`);
      need(buf, cur, len, kind(type));
      return;
    }
    case 'enum': {
      const idx = readLong(buf, cur);
      if (idx < 0 || idx >= type.symbols.length)
        throw new GuardFailure('SERDE_INVALID_DATA', `enum index ${idx} outside ${type.symbols.length} symbols`);
      return;
    }
    case 'array': {
      const items = type.itemsType as AnyType;
      walkBlocks(buf, cur, minEncodedSize(items), () => walk(items, buf, cur), 'array');
      return;
    }
    case 'map': {
      const values = type.valuesType as AnyType;
      walkBlocks(
        buf,
        cur,
        1 + minEncodedSize(values),
        () => {
          const len = readLong(buf, cur);
          if (len < 0) throw new GuardFailure('SERDE_INVALID_DATA', `negative map key length ${len}`);
          need(buf, cur, len, 'map key');
          walk(values, buf, cur);
        },
        'map',
      );
      return;
    }
    case 'record':
    case 'error':
      for (const f of type.fields as { type: AnyType }[]) walk(f.type, buf, cur);
      return;
    case 'union:unwrapped':
    case 'union:wrapped': {
      const idx = readLong(buf, cur);
      const branches = type.types as AnyType[];
      if (idx < 0 || idx >= branches.length)
        throw new GuardFailure('SERDE_INVALID_DATA', `union branch ${idx} outside ${branches.length} branches`);
      walk(branches[idx], buf, cur);
      return;
    }
    default:
      throw new GuardFailure('SERDE_INVALID_DATA', `unsupported Avro type ${kind(type)}`);
  }
}

/** Throws a typed SluiceError unless `body` is exactly one well-formed value of `type`. */
export function checkAvroBytes(
  type: avro.Type,
  body: Buffer,
  coordinates?: RecordCoordinates,
  schemaId?: number,
): void {
  const cur: Cursor = { pos: 0 };
  try {
    walk(type as AnyType, body, cur);
  } catch (err) {
    if (err instanceof GuardFailure)
      throw new SluiceError(err.code, `schema id ${schemaId ?? '?'}: ${err.message}`, {
        coordinates,
        details: { schemaId },
      });
    throw err;
  }
  if (cur.pos !== body.length) {
    throw new SluiceError(
      'SERDE_TRAILING_BYTES',
      `schema id ${schemaId ?? '?'}: ${body.length - cur.pos} bytes after the end of the record`,
      { coordinates, details: { schemaId } },
    );
  }
}
