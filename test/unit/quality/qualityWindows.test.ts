import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeQualityMinute,
  encodeQualityMinute,
  QualityLedger,
  type QualityMinute,
  qualityRecordKey,
  windowStart,
} from '../../../src/quality/qualityLedger.ts';
import {
  DEFAULT_QUALITY_THRESHOLD,
  parseQualityThresholds,
  qualityState,
  thresholdOf,
} from '../../../src/quality/qualityThresholds.ts';

const MIN = 60_000;
const NOW = Date.UTC(2026, 0, 2, 12, 3, 20); // 12:03:20
const M = Date.UTC(2026, 0, 2, 12, 3, 0); // the current minute

function minute(start: number, checked: number, failed: number, over: Partial<QualityMinute> = {}): QualityMinute {
  return {
    window_start: start,
    window_end: start + MIN,
    topology: 'orders',
    topic: 'oltp.orders',
    rule: 'order_status_known',
    checked,
    passed: checked - failed,
    failed,
    runner: 'r1',
    final: true,
    emitted_at: start + MIN,
    ...over,
  };
}

const windowsOf = (ledger: QualityLedger) =>
  Object.fromEntries(
    ledger
      .windows(NOW)
      .map((e) => [e.rule, Object.entries(e.windows).map(([w, c]) => [w, c.checked, c.failed, c.ratio])]),
  );

test('windows are whole minutes back from now, the current one included', () => {
  assert.equal(windowStart('5m', NOW), M - 4 * MIN);
  assert.equal(windowStart('1h', NOW), M - 59 * MIN);
  assert.equal(windowStart('1d', NOW), M - 1439 * MIN);
});

test('each window sums the minutes that start inside it; edges in and out', () => {
  const ledger = new QualityLedger();
  ledger.add(minute(M, 100, 10)); // the current minute: every window
  ledger.add(minute(M - 4 * MIN, 100, 0)); // the 5-minute window's first minute
  ledger.add(minute(M - 5 * MIN, 100, 50)); // just out of 5m, in 1h
  ledger.add(minute(M - 59 * MIN, 100, 0)); // 1h's first minute
  ledger.add(minute(M - 60 * MIN, 100, 100)); // out of 1h, in 1d
  ledger.add(minute(M - 1439 * MIN, 100, 0)); // 1d's first minute
  ledger.add(minute(M - 1440 * MIN, 100, 100)); // older than a day: in no window
  assert.deepEqual(windowsOf(ledger).order_status_known, [
    ['5m', 200, 10, 0.95],
    ['1h', 400, 60, 0.85],
    ['1d', 600, 160, 440 / 600],
  ]);
});

test("a runner's later record of a minute replaces its earlier one; runners add up", () => {
  const ledger = new QualityLedger();
  ledger.add(minute(M, 50, 5, { final: false }));
  ledger.add(minute(M, 100, 10)); // same runner, same minute: replaces
  ledger.add(minute(M, 100, 0, { runner: 'r2' })); // a replica: adds
  assert.deepEqual(windowsOf(ledger).order_status_known[0], ['5m', 200, 10, 0.95]);
});

test('expectations are kept apart by topology, topic and rule; nothing checked has no ratio', () => {
  const ledger = new QualityLedger();
  ledger.add(minute(M, 10, 1));
  ledger.add(minute(M, 10, 2, { rule: 'valid' }));
  ledger.add(minute(M, 10, 3, { topology: 'metrics' }));
  ledger.add(minute(M - 2 * 60 * MIN, 0, 0, { rule: 'quiet' }));
  const w = ledger.windows(NOW);
  assert.equal(w.length, 4);
  const quiet = w.find((e) => e.rule === 'quiet')!;
  assert.deepEqual(quiet.windows['1h'], { checked: 0, passed: 0, failed: 0, ratio: null });
});

test('prune forgets minutes older than a day', () => {
  const ledger = new QualityLedger();
  ledger.add(minute(M - 1440 * MIN, 10, 1));
  ledger.add(minute(M, 10, 1, { rule: 'valid' }));
  ledger.prune(NOW);
  assert.deepEqual(
    ledger.windows(NOW).map((e) => e.rule),
    ['valid'],
  );
});

test('records round-trip as JSON; anything else is skipped, not thrown', () => {
  const m = minute(M, 10, 1);
  assert.deepEqual(decodeQualityMinute(encodeQualityMinute(m)), m);
  assert.equal(qualityRecordKey(m), `${M}|orders|oltp.orders|order_status_known|r1`);
  assert.equal(decodeQualityMinute(null), undefined);
  assert.equal(decodeQualityMinute(Buffer.from('{')), undefined);
  assert.equal(decodeQualityMinute(Buffer.from('{"window_start":1}')), undefined);
});

test('states: ok at or above the ok threshold, alert below the alert one, warn between, no_data without checks', () => {
  const t = DEFAULT_QUALITY_THRESHOLD;
  assert.equal(qualityState(0.98, t), 'ok');
  assert.equal(qualityState(0.979, t), 'warn');
  assert.equal(qualityState(0.95, t), 'warn');
  assert.equal(qualityState(0.9499, t), 'alert');
  assert.equal(qualityState(null, t), 'no_data');
});

test('thresholds: TOPIC:RULE over RULE over * over the default; bad entries are named', () => {
  const entries = parseQualityThresholds('*=99/97, order_status_known=99.5/99 ,web.clickstream:valid=99.9%/99%');
  assert.deepEqual(thresholdOf(entries, 'web.clickstream', 'valid'), { okAtOrAbove: 0.999, alertBelow: 0.99 });
  assert.deepEqual(thresholdOf(entries, 'oltp.orders', 'order_status_known'), { okAtOrAbove: 0.995, alertBelow: 0.99 });
  assert.deepEqual(thresholdOf(entries, 'oltp.orders', 'valid'), { okAtOrAbove: 0.99, alertBelow: 0.97 });
  assert.deepEqual(thresholdOf([], 'oltp.orders', 'valid'), DEFAULT_QUALITY_THRESHOLD);
  assert.deepEqual(parseQualityThresholds(''), []);
  assert.throws(() => parseQualityThresholds('a=90/95'), /alert threshold is above the ok threshold/);
  assert.throws(() => parseQualityThresholds('a=101/95'), /not a percentage/);
  assert.throws(() => parseQualityThresholds('a=98'), /not EXPECTATION=OK\/ALERT/);
  assert.throws(() => parseQualityThresholds('a=98/95,a=97/90'), /listed twice/);
});
