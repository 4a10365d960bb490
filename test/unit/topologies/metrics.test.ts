import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricsTopology, REPARTITION_TOPIC } from '../../../topologies/metrics.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { click, item, order, product, T0 } from './fixtures.ts';

const opts = { outOfOrdernessMs: 1000, graceMs: 0, idleTimeoutMs: 3_600_000, emitEveryMs: 0 };
const finals = <T>(records: { value: unknown }[]) =>
  records.map((r) => ({ ...(r.value as object) }) as T & { final: boolean }).filter((v) => v.final);

test('funnel per 5 minutes counts distinct sessions per step, through the repartition topic', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  const events: [string, string, string][] = [
    ['s1', 'page_view', 'a'],
    ['s1', 'add_to_cart', 'b'],
    ['s1', 'checkout_started', 'c'],
    ['s1', 'purchase', 'd'],
    ['s2', 'page_view', 'e'],
    ['s2', 'page_view', 'f'],
    ['s2', 'add_to_cart', 'g'],
    ['s3', 'page_view', 'h'],
    ['s4', 'page_view', 'i'],
  ];
  events.forEach(([s, type, id], i) =>
    d.pipeInput(
      'silver.clickstream',
      click(id, { session_id: s, event_type: type as never, event_time: T0 + i * 1000 }),
      { key: s },
    ),
  );
  assert.ok(d.readOutput(REPARTITION_TOPIC).length >= events.length, 'inputs re-keyed through the repartition topic');
  d.pipeInput(
    'silver.clickstream',
    click('z', { session_id: 's9', event_type: 'page_view', event_time: T0 + 10 * 60_000 }),
    { key: 's9' },
  );
  const [f] = finals<{
    views: number;
    carts: number;
    checkouts: number;
    purchases: number;
    view_to_cart: number;
    view_to_purchase: number;
    window_start: number;
  }>(d.readOutput('metrics.funnel_5m'));
  assert.equal(f.window_start, Math.floor(T0 / 300_000) * 300_000);
  assert.deepEqual([f.views, f.carts, f.checkouts, f.purchases], [4, 2, 1, 1]);
  assert.equal(f.view_to_cart, 0.5);
  assert.equal(f.view_to_purchase, 0.25);
});

test('revenue per minute by category and in total counts each order item once', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  d.pipeInput('silver.products', product(1, { category: 'books' }), { key: '1' });
  d.pipeInput('silver.products', product(2, { category: 'games' }), { key: '2' });
  d.pipeInput('silver.orders', order(10, 1, { ordered_at: T0 + 5_000 }), { key: '10' });
  d.pipeInput('silver.order_items', item(100, 10, 1, { quantity: 2, unit_price: '12.50' }), { key: '100' });
  d.pipeInput('silver.order_items', item(101, 10, 2, { quantity: 1, unit_price: '40.00' }), { key: '101' });
  // re-extracted
  d.pipeInput('silver.order_items', item(101, 10, 2, { quantity: 1, unit_price: '40.00' }), { key: '101' });
  // Event time moves on in both upstream partitions (the watermark is their minimum).
  d.pipeInput('silver.orders', order(11, 1, { ordered_at: T0 + 5 * 60_000, updated_at: T0 + 5 * 60_000 }), {
    key: '11',
  });
  d.pipeInput('silver.order_items', item(102, 11, 1), { key: '102' });
  const byCategory = Object.fromEntries(
    finals<{ category: string; revenue: number; window_start: number }>(d.readOutput('metrics.revenue_per_minute'))
      .filter((r) => r.window_start < T0 + 60_000)
      .map((r) => [r.category, r.revenue]),
  );
  assert.deepEqual(byCategory, { books: 25, games: 40, __all__: 65 });
  const orders = finals<{ status: string; count: number }>(d.readOutput('metrics.orders_per_minute'));
  assert.deepEqual(
    orders.map((o) => [o.status, o.count]),
    [['paid', 1]],
  );
});

test('DLQ records per minute by source and reason, from the DLQ headers', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  const dlq = (reason: string, at: number) => ({
    'sluice.error.reason': reason,
    'sluice.error.topic': 'web.clickstream',
    'sluice.error.timestamp': String(at),
  });
  d.pipeRaw('web.clickstream.dlq', Buffer.from('x'), { key: 'k', headers: dlq('rule', T0 + 1000) });
  d.pipeRaw('web.clickstream.dlq', Buffer.from('y'), { key: 'k', headers: dlq('rule', T0 + 2000) });
  d.pipeRaw('web.clickstream.dlq', Buffer.from('z'), { key: 'k', headers: dlq('deserialize', T0 + 3000) });
  d.pipeRaw('web.clickstream.dlq', Buffer.from('w'), { key: 'k', headers: dlq('rule', T0 + 120_000) });
  const rows = finals<{ source: string; reason: string; count: number }>(d.readOutput('metrics.dlq_per_minute'));
  assert.deepEqual(rows.map((r) => [r.source, r.reason, r.count]).sort(), [
    ['web.clickstream', 'deserialize', 1],
    ['web.clickstream', 'rule', 2],
  ]);
});

test('a repartition record re-sent by a restarted stage 1 (same upstream offset and copy) is counted once and is not late', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  const input = (_offset: number, time: number) =>
    Buffer.from(JSON.stringify({ metric: 'dlq', group: 'web.clickstream|rule', time }));
  const headers = (offset: number, time: number) => ({
    'sluice.src': 'web.clickstream.dlq/0',
    'sluice.src.offset': String(offset),
    'sluice.src.seq': '0',
    'sluice.wm': String(time - 1000),
    'sluice.ts': String(time),
  });
  d.pipeRaw(REPARTITION_TOPIC, input(0, T0 + 1000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(0, T0 + 1000),
  });
  d.pipeRaw(REPARTITION_TOPIC, input(1, T0 + 2000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(1, T0 + 2000),
  });
  d.pipeRaw(REPARTITION_TOPIC, input(2, T0 + 90_000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(2, T0 + 90_000),
  });
  // Stage 1 restarted from offset 1: offsets 1 and 2 come again, now after the first window closed.
  d.pipeRaw(REPARTITION_TOPIC, input(1, T0 + 2000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(1, T0 + 2000),
  });
  d.pipeRaw(REPARTITION_TOPIC, input(2, T0 + 90_000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(2, T0 + 90_000),
  });
  d.pipeRaw(REPARTITION_TOPIC, input(3, T0 + 200_000), {
    key: 'dlq|web.clickstream|rule',
    headers: headers(3, T0 + 200_000),
  });
  const rows = finals<{ window_start: number; count: number }>(d.readOutput('metrics.dlq_per_minute'));
  assert.deepEqual(
    rows.map((r) => r.count),
    [2, 1],
  );
  assert.equal(d.readOutput('metrics.late').length, 0);
});

test('a record delivered again right after it was processed (a rewind, a rebalance) is counted once: its copies keep their numbers', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  const dlq = (at: number) => ({
    'sluice.error.reason': 'rule',
    'sluice.error.topic': 'web.clickstream',
    'sluice.error.timestamp': String(at),
  });
  d.pipeRaw('web.clickstream.dlq', Buffer.from('x'), { key: 'k', headers: dlq(T0 + 1000) });
  // Offset 0 was the last record processed, and it comes again from the committed offset.
  d.redeliver('web.clickstream.dlq', 0);
  d.pipeRaw('web.clickstream.dlq', Buffer.from('w'), { key: 'k', headers: dlq(T0 + 120_000) });
  const copies = d
    .readOutput(REPARTITION_TOPIC)
    .map((r) => `${r.headers['sluice.src.offset']}:${r.headers['sluice.src.seq']}`);
  assert.deepEqual(copies.slice(0, 2), ['0:0', '0:0'], 'the copy re-sent for offset 0 has the same number');
  const rows = finals<{ window_start: number; count: number }>(d.readOutput('metrics.dlq_per_minute'));
  assert.deepEqual(
    rows.map((r) => r.count),
    [1],
  );
});

test('deletes from change data capture (op d) count as no order and no revenue', async () => {
  const d = await createTestDriver(metricsTopology(opts), { now: T0 });
  d.pipeInput('silver.products', product(1, { category: 'books' }), { key: '1' });
  d.pipeInput('silver.orders', order(10, 1, { ordered_at: T0 + 5_000 }), { key: '10' });
  d.pipeInput('silver.order_items', item(100, 10, 1, { quantity: 2, unit_price: '12.50' }), { key: '100' });
  // Deleted rows (their last image) and a delete of an order never seen as an insert.
  d.pipeInput('silver.order_items', item(100, 10, 1, { quantity: 2, unit_price: '12.50', op: 'd' }), { key: '100' });
  d.pipeInput('silver.orders', order(12, 1, { ordered_at: T0 + 6_000, op: 'd' }), { key: '12' });
  d.pipeInput('silver.order_items', item(103, 12, 1, { quantity: 5, unit_price: '1.00', op: 'd' }), { key: '103' });
  d.pipeInput('silver.orders', order(11, 1, { ordered_at: T0 + 5 * 60_000, updated_at: T0 + 5 * 60_000 }), {
    key: '11',
  });
  d.pipeInput('silver.order_items', item(102, 11, 1), { key: '102' });
  const revenue = finals<{ category: string; revenue: number; window_start: number }>(
    d.readOutput('metrics.revenue_per_minute'),
  ).filter((r) => r.window_start < T0 + 60_000);
  assert.deepEqual(Object.fromEntries(revenue.map((r) => [r.category, r.revenue])), { books: 25, __all__: 25 });
  const orders = finals<{ status: string; count: number; window_start: number }>(
    d.readOutput('metrics.orders_per_minute'),
  ).filter((o) => o.window_start < T0 + 60_000);
  assert.deepEqual(
    orders.map((o) => [o.status, o.count]),
    [['paid', 1]],
  );
});
