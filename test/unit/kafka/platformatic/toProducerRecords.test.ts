import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toProducerRecords, toRecordMetadata } from '../../../../src/kafka/platformatic/toProducerRecords.ts';
import { retryDelay } from '../../../../src/kafka/platformatic/platformaticOptions.ts';

test('kafkajs messages become Buffer records: strings encoded, tombstones kept null, timestamps as bigint', () => {
  const [a, b] = toProducerRecords('orders', [
    { key: 'o-1', value: 'v', partition: 2, timestamp: '1700000000000' },
    { key: Buffer.from([1, 2]), value: null },
  ]);
  assert.deepEqual(a.key, Buffer.from('o-1'));
  assert.deepEqual(a.value, Buffer.from('v'));
  assert.equal(a.partition, 2);
  assert.equal(a.timestamp, 1_700_000_000_000n);
  assert.equal(a.topic, 'orders');
  assert.equal(b.value, null);
  assert.ok('value' in b, 'a tombstone still has a value property (required by @platformatic/kafka)');
  assert.equal('partition' in b, false, 'no partition: the partitioner picks one');
  assert.equal('timestamp' in b, false);
});

test('a record without key has no key property, so it is spread round robin', () => {
  const [r] = toProducerRecords('t', [{ value: 'x' }]);
  assert.equal('key' in r, false);
});

test('headers keep every value of a repeated name, as Buffers', () => {
  const [r] = toProducerRecords('t', [{ value: 'x', headers: { a: ['1', Buffer.from('2')], b: 'z', c: undefined } }]);
  const entries = [...(r.headers as Map<Buffer, Buffer>)].map(([k, v]) => [k.toString(), v.toString()]);
  assert.deepEqual(entries, [
    ['a', '1'],
    ['a', '2'],
    ['b', 'z'],
  ]);
});

test('a send result is reported per partition with its base offset as a string', () => {
  assert.deepEqual(toRecordMetadata({ offsets: [{ topic: 't', partition: 1, offset: 41n }] }), [
    { topicName: 't', partition: 1, errorCode: 0, baseOffset: '41' },
  ]);
});

test('retries back off exponentially from 200 ms up to 5 s, with jitter', () => {
  for (let i = 0; i < 50; i++) {
    const first = retryDelay(null, 'x', 1);
    assert.ok(first >= 160 && first <= 240, String(first));
    const late = retryDelay(null, 'x', 20);
    assert.ok(late >= 4000 && late <= 6000, String(late));
  }
});
