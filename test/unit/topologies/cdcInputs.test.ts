import { test } from 'node:test';
import assert from 'node:assert/strict';
import customers from '../../../topologies/customers.ts';
import orders from '../../../topologies/orders.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { MapReferenceTable } from '../../../src/engine/referenceTable.ts';
import { applyRow } from '../../../src/runner/referenceReader.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createMemoryRegistry } from '../../../src/testing/memoryRegistry.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { customer, order, T0 } from './fixtures.ts';

/** What change data capture adds to the oltp topics: delete records (op d) and tombstones. */

test('a tombstone on an oltp source is skipped (committed, not dead-lettered, not in silver); a delete reaches silver', async () => {
  const d = await createTestDriver(customers, { now: T0 });
  d.pipeInput('oltp.customers', customer(1), { key: '1' });
  d.pipeInput('oltp.customers', customer(1, { op: 'd' }), { key: '1' });
  d.pipeRaw('oltp.customers', null, { key: '1' });
  assert.deepEqual(
    d.readOutput('silver.customers').map((r) => [r.key, (r.value as { op: string }).op]),
    [
      ['1', 'c'],
      ['1', 'd'],
    ],
  );
  assert.deepEqual(d.readOutput('oltp.customers.dlq'), []);
  assert.equal(d.committed('oltp.customers'), 3);
  d.close();
});

test('a delete passes every rule: an order deleted with its customer, or with a last image a rule would reject', async () => {
  const d = await createTestDriver(orders, { now: T0 });
  d.pipeInput('oltp.orders', order(100, 999, { op: 'd' }), { key: '100' });
  d.pipeInput('oltp.orders', order(101, 999, { op: 'd', total_amount: '-1.00' }), { key: '101' });
  d.pipeInput('oltp.orders', order(102, 999), { key: '102' });
  assert.deepEqual(
    d.readOutput('silver.orders').map((r) => r.key),
    ['100', '101'],
  );
  assert.deepEqual(
    d.readOutput('oltp.orders.dlq').map((r) => [r.key, r.headers['sluice.error.rule']]),
    [['102', 'order_customer_exists']],
  );
  d.close();
});

test('a reference table forgets a key on its delete record and on its tombstone', async () => {
  const registry = createMemoryRegistry();
  const serde = createAvroSerde(registry, { maxMessageBytes: 1 << 20 });
  const id = await registry.register('oltp.customers-value', loadSchema('oltp.customers'));
  const table = new MapReferenceTable();
  const reader = { serde, spec: { topic: 'oltp.customers', key: 'customer_id' }, table };
  await serde.prepareIds([id]);
  applyRow(reader, Buffer.from('1'), serde.encodeSync(id, customer(1)));
  applyRow(reader, Buffer.from('2'), serde.encodeSync(id, customer(2)));
  assert.ok(table.has('1') && table.has('2'));
  applyRow(reader, Buffer.from('1'), serde.encodeSync(id, customer(1, { op: 'd' })));
  assert.equal(table.has('1'), false, 'the delete record removes the key');
  applyRow(reader, Buffer.from('2'), null);
  assert.equal(table.has('2'), false, 'the tombstone removes the key');
});
