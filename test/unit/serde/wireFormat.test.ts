import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../../src/core/errors.ts';
import { frame, unframe } from '../../../src/serde/wireFormat.ts';

test('frame/unframe round-trip the schema id and body', () => {
  const body = Buffer.from([1, 2, 3]);
  const framed = frame(0x01020304, body);
  assert.deepEqual([...framed.subarray(0, 5)], [0, 1, 2, 3, 4]);
  const { schemaId, body: back } = unframe(framed);
  assert.equal(schemaId, 0x01020304);
  assert.deepEqual(back, body);
});

test('wrong magic byte, empty and short values are typed errors', () => {
  assert.throws(
    () => unframe(Buffer.from([1, 0, 0, 0, 1, 2])),
    (e: unknown) => isSluiceError(e, 'SERDE_BAD_MAGIC'),
  );
  assert.throws(
    () => unframe(Buffer.alloc(0)),
    (e: unknown) => isSluiceError(e, 'SERDE_BAD_MAGIC'),
  );
  assert.throws(
    () => unframe(Buffer.from([0, 0, 1])),
    (e: unknown) => isSluiceError(e, 'SERDE_TRUNCATED'),
  );
});
