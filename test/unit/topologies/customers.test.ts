import { test } from 'node:test';
import assert from 'node:assert/strict';
import customers from '../../../topologies/customers.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { customer, T0 } from './fixtures.ts';

test('valid customers reach silver.customers keyed by id; missing or malformed emails go to the DLQ with the rule named', async () => {
  const d = await createTestDriver(customers, { now: T0 });
  d.pipeInput('oltp.customers', customer(1), { key: '1' });
  d.pipeInput('oltp.customers', customer(2, { email: null }), { key: '2' });
  d.pipeInput('oltp.customers', customer(3, { email: 'not-an-email' }), { key: '3' });
  const silver = d.readOutput('silver.customers');
  assert.deepEqual(
    silver.map((r) => [r.key, (r.value as { customer_id: number }).customer_id]),
    [['1', 1]],
  );
  const dlq = d.readOutput('oltp.customers.dlq');
  assert.deepEqual(
    dlq.map((r) => r.headers['sluice.error.rule']),
    ['customer_email_present', 'customer_email_format'],
  );
  assert.ok(
    dlq.every((r) => r.headers['sluice.error.reason'] === 'rule' && r.headers['sluice.error.topology'] === 'customers'),
  );
  assert.equal(d.committed('oltp.customers'), 3, 'every input acknowledged');
});

test('the DLQ keeps the original bytes and key untouched, with coordinates in the headers', async () => {
  const d = await createTestDriver(customers, { now: T0 });
  const bytes = d.encode('oltp.customers', customer(9, { email: null }));
  d.pipeRaw('oltp.customers', bytes, { key: '9', partition: 2 });
  const [rec] = d.readOutput('oltp.customers.dlq');
  assert.deepEqual(rec.rawValue, bytes);
  assert.equal(rec.key, '9');
  assert.equal(rec.headers['sluice.error.topic'], 'oltp.customers');
  assert.equal(rec.headers['sluice.error.partition'], '2');
  assert.equal(rec.headers['sluice.error.offset'], '0');
  assert.equal(rec.headers['__connect.errors.topic'], 'oltp.customers');
  assert.equal(rec.headers['sluice.replay.count'], '0');
  assert.ok(Number(rec.headers['sluice.error.schema.id']) > 0);
});

test('undecodable bytes go to the DLQ as deserialize, unknown schema ids as schema; the topology keeps running', async () => {
  const d = await createTestDriver(customers, { now: T0 });
  d.pipeRaw('oltp.customers', Buffer.from('{"json":"not avro"}'), { key: 'a' });
  d.pipeRaw('oltp.customers', Buffer.from([0, 0, 0, 0x7f, 0x7f, 2, 4]), { key: 'b' });
  const good = d.encode('oltp.customers', customer(5));
  d.pipeRaw('oltp.customers', Buffer.concat([good, Buffer.from([1, 2, 3])]), { key: 'c' });
  d.pipeRaw('oltp.customers', good.subarray(0, good.length - 3), { key: 'd' });
  d.pipeInput('oltp.customers', customer(6), { key: '6' });
  const dlq = d.readOutput('oltp.customers.dlq');
  assert.deepEqual(
    dlq.map((r) => [r.key, r.headers['sluice.error.reason']]),
    [
      ['a', 'deserialize'],
      ['b', 'schema'],
      ['c', 'deserialize'],
      ['d', 'deserialize'],
    ],
  );
  assert.match(dlq[0].headers['sluice.error.message'], /SLUICE_ERR_SERDE_BAD_MAGIC/);
  assert.match(dlq[1].headers['sluice.error.message'], /SLUICE_ERR_SERDE_UNKNOWN_SCHEMA/);
  assert.match(dlq[2].headers['sluice.error.message'], /SLUICE_ERR_SERDE_TRAILING_BYTES/);
  assert.match(dlq[3].headers['sluice.error.message'], /SLUICE_ERR_SERDE_TRUNCATED/);
  assert.equal(d.readOutput('silver.customers').length, 1);
  assert.equal(d.committed('oltp.customers'), 5);
});
