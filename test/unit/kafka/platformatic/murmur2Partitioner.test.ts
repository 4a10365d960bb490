import { test } from 'node:test';
import assert from 'node:assert/strict';
import { murmur2 } from '../../../../src/kafka/murmur2.ts';
import { createJavaCompatiblePartitioner } from '../../../../src/kafka/platformatic/javaCompatiblePartitioner.ts';

// Expected values: Kafka's UtilsTest (Java) and kafkajs' murmur2, which agree.
const VECTORS: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['', 275646681],
  ['customer-42', -542987495],
  ['k', -1567496736],
];

test('murmur2 hashes keys as the Java client and kafkajs do, every tail length included', () => {
  for (const [key, hash] of VECTORS) assert.equal(murmur2(Buffer.from(key)), hash, key);
});

test('a keyed record goes where kafkajs and Java put it: (murmur2 & 0x7fffffff) mod partitions', () => {
  const partitioner = createJavaCompatiblePartitioner();
  for (const [key, hash] of VECTORS) {
    const value = partitioner({ topic: 't' }, Buffer.from(key));
    assert.equal(value % 6, (hash & 0x7fffffff) % 6, key);
    assert.ok(value >= 0);
  }
});

test("a record's own partition wins over its key", () => {
  const partitioner = createJavaCompatiblePartitioner();
  assert.equal(partitioner({ topic: 't', partition: 4 }, Buffer.from('21')), 4);
});

test('records without key go round robin, per topic, never negative', () => {
  const partitioner = createJavaCompatiblePartitioner();
  const a = Array.from({ length: 6 }, () => partitioner({ topic: 'a' }, undefined) % 3);
  for (let i = 1; i < a.length; i++) assert.equal(a[i], (a[i - 1] + 1) % 3);
  assert.ok(a.every((p) => p >= 0));
  const b = partitioner({ topic: 'b' }, undefined);
  assert.ok(b >= 0);
});
