import { test } from 'node:test';
import assert from 'node:assert/strict';
import orders from '../../../topologies/orders.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { customer, item, order, product, T0 } from './fixtures.ts';

test('orders and items are checked against customers, products and orders read as tables', async () => {
  const d = await createTestDriver(orders, { now: T0 });
  d.pipeInput('oltp.customers', customer(1), { key: '1' });
  d.pipeInput('oltp.products', product(10), { key: '10' });
  d.pipeInput('oltp.orders', order(100, 1), { key: '100' });
  d.pipeInput('oltp.orders', order(101, 999), { key: '101' });
  d.pipeInput('oltp.orders', order(102, 1, { total_amount: '-5.00' }), { key: '102' });
  d.pipeInput('oltp.orders', order(103, 1, { status: 'shiped' }), { key: '103' });
  d.pipeInput('oltp.order_items', item(1000, 100, 10), { key: '1000' });
  d.pipeInput('oltp.order_items', item(1001, 555, 10), { key: '1001' });
  d.pipeInput('oltp.order_items', item(1002, 100, 77), { key: '1002' });
  d.pipeInput('oltp.order_items', item(1003, 100, 10, { quantity: 0 }), { key: '1003' });

  assert.deepEqual(
    d.readOutput('silver.orders').map((r) => r.key),
    ['100'],
  );
  assert.deepEqual(
    d.readOutput('silver.order_items').map((r) => r.key),
    ['1000'],
  );
  assert.deepEqual(
    d.readOutput('oltp.orders.dlq').map((r) => [r.key, r.headers['sluice.error.rule']]),
    [
      ['101', 'order_customer_exists'],
      ['102', 'order_amount_non_negative'],
      ['103', 'order_status_known'],
    ],
  );
  assert.deepEqual(
    d.readOutput('oltp.order_items.dlq').map((r) => [r.key, r.headers['sluice.error.rule']]),
    [
      ['1001', 'item_order_exists'],
      ['1002', 'item_product_exists'],
      ['1003', 'item_quantity_positive'],
    ],
  );
  assert.equal(
    (d.readOutput('silver.orders')[0].value as { total_amount: string }).total_amount,
    '25.00',
    'decimals survive the round-trip',
  );
  assert.equal(d.committed('oltp.orders'), 4);
  assert.equal(d.committed('oltp.order_items'), 4);
});
