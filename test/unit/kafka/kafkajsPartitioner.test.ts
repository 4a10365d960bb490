import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Partitioners } from 'kafkajs';
import { javaCompatiblePartitioner } from '../../../src/kafka/kafkajsPartitioner.ts';
import { murmur2, murmur2OfKey } from '../../../src/kafka/murmur2.ts';

const metadata = (n: number, leaderless: number[] = []) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

test("Sluice's kafkajs partitioner puts every key where kafkajs' DefaultPartitioner does", () => {
  const ours = javaCompatiblePartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  const keys = [
    '',
    'k',
    '21',
    'customer-42',
    'sess-9f1c2e',
    'ünïcödé-κλειδί',
    'a'.repeat(200),
    Buffer.from([0, 255, 7]),
  ];
  for (let i = 0; i < 2000; i++) keys.push(`session-${i * 7919}`);
  for (const n of [1, 3, 6, 12]) {
    const partitionMetadata = metadata(n);
    for (const key of keys) {
      const args = { topic: 't', partitionMetadata, message: { key, value: null } };
      assert.equal(ours(args), theirs(args), `${String(key)} over ${n} partitions`);
    }
  }
});

test("a message's own partition wins; without key, round robin over the partitions with a leader", () => {
  const ours = javaCompatiblePartitioner();
  const partitionMetadata = metadata(4, [1]);
  assert.equal(ours({ topic: 't', partitionMetadata, message: { key: 'k', partition: 3, value: null } }), 3);
  const picked = Array.from({ length: 9 }, () => ours({ topic: 't', partitionMetadata, message: { value: null } }));
  assert.ok(!picked.includes(1), 'never the partition without a leader');
  assert.deepEqual(new Set(picked), new Set([0, 2, 3]));
  for (let i = 1; i < picked.length; i++) assert.notEqual(picked[i], picked[i - 1]);
});

test('murmur2 of a string key hashes its UTF-8 bytes, ASCII or not', () => {
  for (const key of ['', '21', 'customer-42', 'é', '日本', 'x'.repeat(300)])
    assert.equal(murmur2OfKey(key), murmur2(Buffer.from(key, 'utf8')), key);
});
