import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { isSluiceError, type ErrorCode } from '../../../src/core/errors.ts';
import { checkAvroBytes, MAX_ZERO_SIZE_ITEMS } from '../../../src/serde/avroGuard.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createMemoryRegistry } from '../../../src/testing/memoryRegistry.ts';
import { frame } from '../../../src/serde/wireFormat.ts';

const SCHEMA = {
  type: 'record',
  name: 'Hostile',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'nothing', type: { type: 'array', items: 'null' } },
    { name: 'attrs', type: { type: 'map', values: 'long' } },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['a', 'b'] } },
    { name: 'maybe', type: ['null', 'string'], default: null },
  ],
} as const;
const type = avro.Type.forSchema(SCHEMA as never, { wrapUnions: false });
const good = { id: 7, tags: ['x', 'y'], nothing: [null, null], attrs: { k: 1 }, kind: 'b', maybe: 'm' };

const zigzag = (n: bigint) => {
  let z = n >= 0n ? n * 2n : -n * 2n - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z) b |= 0x80;
    out.push(b);
  } while (z);
  return Buffer.from(out);
};
const rejects = (body: Buffer, code: ErrorCode) =>
  assert.throws(
    () => checkAvroBytes(type, body),
    (e: unknown) => isSluiceError(e, code),
    code,
  );

test('a well-formed value passes the guard and decodes', () => {
  const body = type.toBuffer(good);
  checkAvroBytes(type, body);
  assert.deepEqual({ ...type.fromBuffer(body) }, good);
});

test('a crafted array block count far beyond the buffer is refused before avsc loops on it (2^50 strings)', () => {
  rejects(Buffer.concat([zigzag(7n), zigzag(2n ** 50n), Buffer.from([0])]), 'SERDE_HOSTILE_LENGTH');
});

test('a huge count of zero-size items (array<null>) is capped, since no buffer length bounds it', () => {
  rejects(
    Buffer.concat([zigzag(7n), zigzag(0n), zigzag(BigInt(MAX_ZERO_SIZE_ITEMS) + 1n), zigzag(0n)]),
    'SERDE_HOSTILE_LENGTH',
  );
});

test('a negative block count with a block byte size past the end is refused', () => {
  rejects(Buffer.concat([zigzag(7n), zigzag(0n), zigzag(0n), zigzag(-3n), zigzag(1n << 40n)]), 'SERDE_HOSTILE_LENGTH');
});

test('a map count or a string length beyond the buffer is refused', () => {
  rejects(Buffer.concat([zigzag(7n), zigzag(0n), zigzag(0n), zigzag(1n << 33n)]), 'SERDE_HOSTILE_LENGTH');
  rejects(Buffer.concat([zigzag(7n), zigzag(1n), zigzag(1n << 31n), Buffer.from('abc')]), 'SERDE_HOSTILE_LENGTH');
});

test('truncated, trailing, bad enum index, bad union branch, overlong varint: each its typed error', () => {
  const body = type.toBuffer(good);
  rejects(body.subarray(0, body.length - 2), 'SERDE_TRUNCATED');
  rejects(Buffer.concat([body, Buffer.from([1])]), 'SERDE_TRAILING_BYTES');
  rejects(
    Buffer.concat([zigzag(7n), zigzag(0n), zigzag(0n), zigzag(0n), zigzag(5n), zigzag(0n)]),
    'SERDE_INVALID_DATA',
  );
  rejects(
    Buffer.concat([zigzag(7n), zigzag(0n), zigzag(0n), zigzag(0n), zigzag(1n), zigzag(9n)]),
    'SERDE_INVALID_DATA',
  );
  rejects(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 'SERDE_INVALID_DATA');
});

test('through the serde: wrong magic, unknown schema id, oversized value are typed; a tombstone is not a record', async () => {
  const registry = createMemoryRegistry();
  const id = await registry.register('hostile-value', SCHEMA as never);
  const serde = createAvroSerde(registry, { maxMessageBytes: 64 });
  const ok = await serde.encode(id, good);
  const expect = async (value: Buffer | null, code: ErrorCode) =>
    assert.rejects(
      serde.decode(value, { topic: 't', partition: 1, offset: '9' }),
      (e: unknown) => isSluiceError(e, code) && e.coordinates?.offset === '9',
      code,
    );
  assert.deepEqual({ ...((await serde.decode(ok)).value as object) }, good);
  await expect(Buffer.concat([Buffer.from([1]), ok.subarray(1)]), 'SERDE_BAD_MAGIC');
  await expect(frame(424242, ok.subarray(5)), 'SERDE_UNKNOWN_SCHEMA');
  await expect(Buffer.alloc(65), 'SERDE_TOO_LARGE');
  await expect(null, 'SERDE_BAD_MAGIC');
  await expect(Buffer.from([0, 0, 0]), 'SERDE_TRUNCATED');
});
