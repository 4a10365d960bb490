import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { expectationOfDeadLetter, maskMessage } from '../../../src/quality/qualityExamples.ts';
import { QualityLedger } from '../../../src/quality/qualityLedger.ts';
import { createQualityMetrics } from '../../../src/quality/qualityMetrics.ts';
import { buildQualityReport, formatQualityReport, windowCell } from '../../../src/quality/qualityReport.ts';
import { scoresOf } from '../../../src/quality/qualityScores.ts';
import { declaredSuites } from '../../../src/quality/qualitySuites.ts';
import { parseQualityThresholds } from '../../../src/quality/qualityThresholds.ts';
import orders from '../../../topologies/orders.ts';

const MIN = 60_000;
const NOW = Date.UTC(2026, 0, 2, 12, 3, 20);
const M = Date.UTC(2026, 0, 2, 12, 3, 0);

function ledgerOf(rows: [topology: string, topic: string, rule: string, checked: number, failed: number][]) {
  const ledger = new QualityLedger();
  for (const [topology, topic, rule, checked, failed] of rows)
    ledger.add({
      ...{ window_start: M, window_end: M + MIN, topology, topic, rule, checked, failed },
      ...{ passed: checked - failed, runner: 'r', final: false, emitted_at: NOW },
    });
  return ledger;
}

test('the declared suites come from the pipeline: valid for a decoded source, then its rules in order', () => {
  const suites = declaredSuites([orders]);
  assert.deepEqual(
    suites.map((s) => [s.topic, s.dlq, s.expectations.map((e) => e.rule)]),
    [
      [
        'oltp.orders',
        'oltp.orders.dlq',
        ['valid', 'order_amount_non_negative', 'order_status_known', 'order_customer_exists'],
      ],
      [
        'oltp.order_items',
        'oltp.order_items.dlq',
        ['valid', 'item_quantity_positive', 'item_price_non_negative', 'item_order_exists', 'item_product_exists'],
      ],
    ],
  );
  const status = suites[0].expectations.find((e) => e.rule === 'order_status_known')!;
  assert.equal(status.kind, 'in_set');
  assert.match(status.check, /^status in \{pending, paid/);
});

test('scores: declared expectations in order (no_data without counts), then counted ones no suite declares', () => {
  const ledger = ledgerOf([
    ['orders', 'oltp.orders', 'valid', 1000, 0],
    ['orders', 'oltp.orders', 'order_status_known', 1000, 100],
    ['orders', 'oltp.orders', 'order_amount_non_negative', 1000, 30],
    ['test_orders', 'it.oltp.orders', 'order_status_known', 10, 0],
  ]);
  const scores = scoresOf(ledger.windows(NOW), declaredSuites([orders]), parseQualityThresholds(''));
  const of = (topic: string, rule: string) => scores.find((s) => s.topic === topic && s.rule === rule)!;
  assert.deepEqual(
    scores.slice(0, 4).map((s) => [s.rule, s.state]),
    [
      ['valid', 'ok'],
      ['order_amount_non_negative', 'warn'],
      ['order_status_known', 'alert'],
      ['order_customer_exists', 'no_data'],
    ],
  );
  assert.deepEqual(of('oltp.orders', 'order_status_known').windows['5m'], {
    checked: 1000,
    passed: 900,
    failed: 100,
    ratio: 0.9,
    state: 'alert',
  });
  const foreign = of('it.oltp.orders', 'order_status_known');
  assert.equal(foreign.declared, false);
  assert.equal(foreign.state, 'ok');
  assert.equal(scores.length, 9 + 1);
  // A threshold override changes the state.
  const lenient = scoresOf(
    ledger.windows(NOW),
    declaredSuites([orders]),
    parseQualityThresholds('order_status_known=90/85'),
  );
  assert.equal(lenient.find((s) => s.rule === 'order_status_known')!.state, 'ok');
});

test('the report groups suites, counts states, is not ok under an alert threshold, and prints examples', () => {
  const ledger = ledgerOf([
    ['orders', 'oltp.orders', 'valid', 1000, 0],
    ['orders', 'oltp.orders', 'order_status_known', 1000, 100],
  ]);
  const scores = scoresOf(ledger.windows(NOW), declaredSuites([orders]), []);
  const example = {
    key: '42',
    partition: 1,
    offset: '1234',
    reason: 'rule',
    message: 'status=*** is not one of a',
    at: NOW,
  };
  const report = buildQualityReport(scores, new Map([['orders|oltp.orders|order_status_known', [example]]]), NOW);
  assert.equal(report.ok, false);
  assert.deepEqual(report.counts, { ok: 1, warn: 0, alert: 1, no_data: 7 });
  assert.deepEqual(
    report.suites.map((s) => [s.topic, s.state]),
    [
      ['oltp.orders', 'alert'],
      ['oltp.order_items', 'no_data'],
    ],
  );
  const text = formatQualityReport(report);
  assert.match(text, /suite orders \/ oltp\.orders — ALERT \(failures in oltp\.orders\.dlq\)/);
  assert.match(
    text,
    /order_status_known +98\.0 % \/ 95\.0 % +90\.0 % of 1,000 +90\.0 % of 1,000 +90\.0 % of 1,000 +alert +status in/,
  );
  assert.match(
    text,
    new RegExp(
      'order_status_known: 100 failed in the last day, e\\.g\\.\\n {4}' +
        'key 42 · partition 1 · offset 1234 · rule: status=\\*\\*\\* is not one of a',
    ),
  );
  assert.match(text, /no data in the last day: orders\/oltp\.order_items/);
  assert.match(text, /1 ok, 0 warn, 1 under the alert threshold, 7 without data$/);
  assert.equal(
    buildQualityReport(
      scores.filter((s) => s.state !== 'alert'),
      new Map(),
      NOW,
    ).ok,
    true,
  );
});

test('window cells: the pass rate rounded down (99.99 % is not shown as 100 %) with the records checked', () => {
  assert.equal(windowCell({ checked: 10_000, ratio: 0.9999 }), '99.9 % of 10,000');
  assert.equal(windowCell({ checked: 0, ratio: null }), '-');
});

test('example messages never carry values: field=value and email-like text are masked', () => {
  assert.equal(maskMessage('status="bogus" is not one of pending, paid'), 'status=*** is not one of pending, paid');
  assert.equal(maskMessage('total_amount=-5.00 is below 0'), 'total_amount=*** is below 0');
  assert.equal(maskMessage('customer_id=77 not found in customers'), 'customer_id=*** not found in customers');
  assert.equal(maskMessage('email does not match /x/'), 'email does not match /x/');
  assert.equal(maskMessage('rule threw: bad a.b@example.com here'), 'rule threw: bad ***@*** here');
  assert.equal(maskMessage('duplicate event_id=abc'), 'duplicate event_id=***');
});

test('a dead letter counts against its rule, or valid for a decode failure; sink and processing do not count', () => {
  assert.equal(expectationOfDeadLetter({ 'sluice.error.reason': 'rule', 'sluice.error.rule': 'r1' }), 'r1');
  assert.equal(expectationOfDeadLetter({ 'sluice.error.reason': 'schema' }), 'valid');
  assert.equal(expectationOfDeadLetter({ 'sluice.error.reason': 'deserialize' }), 'valid');
  assert.equal(expectationOfDeadLetter({ 'sluice.error.reason': 'sink' }), undefined);
});

test('metrics: counters from the running totals at scrape time, a ratio gauge per window, Prometheus names', async () => {
  const registry = new client.Registry();
  const totals = [{ topology: 'orders', topic: 'oltp.orders', rule: 'valid', checked: 10, failed: 1 }];
  const metrics = createQualityMetrics(registry, () => totals);
  metrics.update(ledgerOf([['orders', 'oltp.orders', 'valid', 10, 1]]).windows(NOW));
  const text = await registry.metrics();
  assert.match(text, /sluice_quality_checked_total\{topology="orders",topic="oltp.orders",rule="valid"\} 10/);
  assert.match(text, /sluice_quality_failed_total\{topology="orders",topic="oltp.orders",rule="valid"\} 1/);
  for (const w of ['5m', '1h', '1d'])
    assert.match(
      text,
      new RegExp(`sluice_quality_pass_ratio\\{topology="orders",topic="oltp.orders",rule="valid",window="${w}"\\} 0.9`),
    );
  totals[0].checked = 20;
  assert.match(await registry.metrics(), /sluice_quality_checked_total\{[^}]*\} 20/);
  for (const m of (await registry.getMetricsAsJSON()) as unknown as { name: string; type: string }[])
    assert.equal(m.type === 'counter', m.name.endsWith('_total'), m.name);
});
