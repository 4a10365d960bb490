import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { notNull, range, regex } from '../../../src/topology/rules.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { QualityCounters, QualityCounts } from '../../../src/quality/qualityCounts.ts';
import { MinuteCounts } from '../../../src/quality/qualityPublisher.ts';
import { customer, order, T0 } from '../topologies/fixtures.ts';

/** A topology with two sources, each decoded and validated: counts must stay per topic and rule. */
const shop = defineTopology({
  name: 'shop_quality',
  sources: [{ topic: 'oltp.customers' }, { topic: 'oltp.orders' }],
  rules: [
    notNull('email_present', 'email'),
    regex('email_format', 'email', /^[^@\s]+@[^@\s]+\.[^@\s]+$/),
    range('amount_non_negative', 'total_amount', { min: 0 }),
  ],
  outputs: [
    { topic: 'silver.customers', schema: 'silver.customers' },
    { topic: 'silver.orders', schema: 'silver.orders' },
  ],
  pipeline: ({ sources, ops }) =>
    ops.merge(
      sources['oltp.customers'].pipe(
        ops.decode(),
        ops.validate(['email_present', 'email_format']),
        ops.toTopic('silver.customers'),
      ),
      sources['oltp.orders'].pipe(ops.decode(), ops.validate(['amount_non_negative']), ops.toTopic('silver.orders')),
    ),
});

const byId = (totals: { topic: string; rule: string; checked: number; failed: number }[]) =>
  Object.fromEntries(totals.map((t) => [`${t.topic}:${t.rule}`, [t.checked, t.failed]]));

test('decode and validate count per topic and rule: input = valid + DLQ, a rule counts the records it checked', async () => {
  const quality = new QualityCounts('shop_quality');
  const d = await createTestDriver(shop, { now: T0, quality });
  for (let i = 1; i <= 20; i++) d.pipeInput('oltp.customers', customer(i, i % 10 === 0 ? { email: null } : {}));
  d.pipeInput('oltp.customers', customer(21, { email: 'not an email' }));
  d.pipeRaw('oltp.customers', Buffer.from('not avro'));
  for (let i = 1; i <= 10; i++) d.pipeInput('oltp.orders', order(i, 1, i === 3 ? { total_amount: '-1.00' } : {}));

  assert.deepEqual(byId(quality.totals()), {
    'oltp.customers:valid': [22, 1],
    'oltp.customers:email_present': [21, 2],
    // The two records without an email never reached email_format.
    'oltp.customers:email_format': [19, 1],
    'oltp.orders:valid': [10, 0],
    'oltp.orders:amount_non_negative': [10, 1],
  });
  // The DLQ holds exactly the failures counted.
  assert.equal(d.readOutput('oltp.customers.dlq').length, 4);
  assert.equal(d.readOutput('oltp.orders.dlq').length, 1);
  d.close();
});

test('a driver without counters counts nothing (the counters are optional on the record path)', async () => {
  const d = await createTestDriver(shop, { now: T0 });
  d.pipeInput('oltp.customers', customer(1));
  assert.equal(d.readOutput('silver.customers').length, 1);
  d.close();
});

test('QualityCounters keeps one QualityCounts per topology and lists every total', () => {
  const counters = new QualityCounters();
  const a = counters.topology('a').step(['valid']);
  assert.equal(counters.topology('a'), counters.topology('a'));
  a.of('t').entered += 3;
  a.of('t').failed[0] += 1;
  a.of('u').entered += 2;
  assert.deepEqual(
    counters.totals().map((t) => [t.topology, t.topic, t.rule, t.checked, t.failed]),
    [
      ['a', 't', 'valid', 3, 1],
      ['a', 'u', 'valid', 2, 0],
    ],
  );
});

const MIN = 60_000;
const M0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const total = (checked: number, failed: number) => [{ topology: 'x', topic: 't', rule: 'r', checked, failed }];

test('MinuteCounts: the totals gained since the last call go to the open minute; its end publishes it final', () => {
  const m = new MinuteCounts('runner-1');
  assert.deepEqual(m.advance(total(0, 0), M0, M0 + 10_000, false), [], 'nothing counted: nothing to publish');
  const first = m.advance(total(100, 10), M0, M0 + 20_000, false);
  assert.deepEqual(
    first.map((r) => [r.window_start, r.checked, r.passed, r.failed, r.final, r.runner]),
    [[M0, 100, 90, 10, false, 'runner-1']],
  );
  assert.deepEqual(m.advance(total(100, 10), M0, M0 + 30_000, false), [], 'unchanged: not republished');
  const closing = m.advance(total(150, 11), M0, M0 + MIN, true);
  assert.deepEqual(
    closing.map((r) => [r.window_start, r.window_end, r.checked, r.failed, r.final]),
    [[M0, M0 + MIN, 150, 11, true]],
  );
  const next = m.advance(total(160, 11), M0 + MIN, M0 + MIN + 10_000, false);
  assert.deepEqual(
    next.map((r) => [r.window_start, r.checked, r.failed]),
    [[M0 + MIN, 10, 0]],
    'the next minute starts from zero',
  );
});

test('MinuteCounts: a late timer closes the open minute before counting into the next', () => {
  const m = new MinuteCounts('r');
  m.advance(total(5, 1), M0, M0 + 50_000, false);
  const out = m.advance(total(8, 1), M0 + MIN, M0 + MIN + 20_000, false);
  assert.deepEqual(
    out.map((r) => [r.window_start, r.checked, r.failed, r.final]),
    [
      [M0, 5, 1, true],
      [M0 + MIN, 3, 0, false],
    ],
  );
});
