import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEnabledRules, parseWebhooks, ALERT_RULE_NAMES } from '../../../src/alerts/alertRules.ts';
import { lagObservation } from '../../../src/alerts/signals/consumerLagSignal.ts';
import { dlqRateObservation } from '../../../src/alerts/signals/dlqRateSignal.ts';
import { freshnessObservation } from '../../../src/alerts/signals/freshnessSignal.ts';
import { qualityObservation } from '../../../src/alerts/signals/qualitySignal.ts';
import { readinessSignal, readyzSubject } from '../../../src/alerts/signals/readinessSignal.ts';
import { sampleHistory, windowBase } from '../../../src/alerts/signals/sampleHistory.ts';
import { throttled } from '../../../src/alerts/signals/throttled.ts';
import { warehouseTestObservation } from '../../../src/alerts/signals/warehouseTestSignal.ts';
import { loadConfig, redactedConfig } from '../../../src/config/config.ts';

const samples = (...pairs: [number, number][]) => pairs.map(([at, value]) => ({ at, value }));

test('DLQ rate: unknown on the first sample, then dead letters per minute over the window against the threshold', () => {
  const opts = { ratePerMinute: 10, windowMs: 60_000 };
  assert.equal(dlqRateObservation('t.dlq', samples([0, 5]), opts).state, 'unknown');
  const firing = dlqRateObservation('t.dlq', samples([0, 5], [30_000, 20]), opts);
  assert.equal(firing.state, 'firing');
  assert.equal(firing.evidence.perMinute, 30);
  assert.equal(firing.evidence.records, 15);
  // The base is the newest sample at or before the window's start: 60 s back from 90 s is 30 s.
  const ok = dlqRateObservation('t.dlq', samples([0, 5], [30_000, 20], [90_000, 25]), opts);
  assert.equal(ok.state, 'ok');
  assert.equal(ok.evidence.perMinute, 5);
  assert.equal(dlqRateObservation('t.dlq', samples([0, 5], [60_000, 15]), opts).state, 'ok', 'at the threshold');
});

test('consumer lag: fires only when it grew, never shrinking, for the whole period', () => {
  const g = 10_000;
  assert.equal(lagObservation('g', samples([0, 0]), g).state, 'unknown');
  assert.equal(lagObservation('g', samples([0, 0], [5_000, 10]), g).state, 'unknown', 'growing, too early');
  const growing = lagObservation('g', samples([0, 0], [5_000, 10], [10_000, 10], [12_000, 30]), g);
  assert.equal(growing.state, 'firing');
  assert.deepEqual([growing.evidence.lag, growing.evidence.lagBefore], [30, 0]);
  assert.equal(lagObservation('g', samples([0, 5], [5_000, 50], [10_000, 40], [11_000, 60]), g).state, 'ok');
  assert.equal(lagObservation('g', samples([0, 50], [10_000, 50]), g).state, 'ok', 'stuck is not growing');
  assert.equal(lagObservation('g', samples([0, 50], [10_000, 0]), g).state, 'ok');
});

test('sample history keeps the window and the base before it, and forgets subjects gone', () => {
  const h = sampleHistory(10_000);
  for (const at of [0, 4_000, 8_000, 12_000, 16_000, 20_000]) h.add('a', at, at);
  const kept = h.add('a', 24_000, 24_000);
  assert.deepEqual(
    kept.map((s) => s.at),
    [12_000, 16_000, 20_000, 24_000],
  );
  assert.equal(windowBase(kept, 10_000)?.at, 12_000);
  h.retain(new Set());
  assert.equal(h.add('a', 30_000, 1).length, 1);
});

test('freshness, warehouse test and quality results map to observations with their evidence', () => {
  const base = { subject: 'oltp.orders', source: 'record timestamp', warnAfterSeconds: 900, breachAfterSeconds: 1800 };
  const breach = freshnessObservation({ ...base, newest: null, ageSeconds: null, state: 'breach', problem: 'empty' });
  assert.equal(breach.state, 'firing');
  assert.equal(breach.evidence.problem, 'empty');
  assert.equal(
    freshnessObservation({ ...base, newest: 'x', ageSeconds: 1000, state: 'warn' }).state,
    'ok',
    'warn is not an incident',
  );
  const test_ = {
    name: 'relationships a -> b',
    kind: 'relationships' as const,
    table: 'gold.t',
    column: 'k',
    failingRows: 2,
    examples: ['7', '9'],
  };
  assert.equal(warehouseTestObservation({ ...test_, status: 'fail' }).state, 'firing');
  assert.equal(warehouseTestObservation({ ...test_, status: 'error' }).state, 'unknown');
  assert.equal(warehouseTestObservation({ ...test_, status: 'warn' }).state, 'ok');
  assert.deepEqual(warehouseTestObservation({ ...test_, status: 'fail' }).evidence.examples, ['7', '9']);
  const score = { topic: 'web.clickstream', rule: 'valid', window: '5m', checked: 100, failed: 10, alertBelow: 0.95 };
  const q = qualityObservation({ ...score, ratio: 0.9, state: 'alert' });
  assert.equal(q.subject, 'web.clickstream:valid');
  assert.equal(q.state, 'firing');
  assert.match(q.summary, /pass rate 90 % over 5m \(10 of 100 failed, alert below 95 %\)/);
  assert.equal(qualityObservation({ ...score, ratio: null, state: 'no_data' }).state, 'unknown');
  assert.equal(qualityObservation({ ...score, ratio: 0.96, state: 'warn' }).state, 'ok');
});

test('readiness: 200 is ok; 503 fires naming the topologies not ready; no answer fires', async () => {
  let status = 503;
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ready: status === 200, topologies: [{ topology: 'orders', ready: status === 200 }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/readyz`;
  await new Promise((r) => closed.close(r));
  try {
    const signal = readinessSignal({ urls: [url, downUrl], timeoutMs: 1000 });
    const [stalled, down] = await signal.observe(new AbortController().signal);
    assert.equal(stalled.state, 'firing');
    assert.deepEqual(stalled.evidence.notReady, ['orders']);
    assert.equal(stalled.summary, 'runner HTTP 503, not ready: orders');
    assert.equal(down.state, 'firing');
    assert.equal(down.evidence.error, 'ECONNREFUSED');
    status = 200;
    assert.equal((await signal.observe(new AbortController().signal))[0].state, 'ok');
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.equal(readyzSubject('http://user:pw@runner-1:8080/readyz?x=1'), 'http://runner-1:8080/readyz');
});

test('settings: webhooks as JSON or slack: targets, errors never repeat the URL; enabled rules checked', () => {
  assert.deepEqual(parseWebhooks('https://ops.test/hook, slack:https://hooks.slack.test/T/B/secret'), [
    { url: 'https://ops.test/hook', format: 'json' },
    { url: 'https://hooks.slack.test/T/B/secret', format: 'slack' },
  ]);
  assert.throws(
    () => parseWebhooks('https://ok.test,ftp://x/s3cr3t'),
    (err: Error) => {
      assert.equal(err.message, 'entry 2 is not an http(s) URL (or slack:URL)');
      return true;
    },
  );
  assert.deepEqual(parseEnabledRules(''), ALERT_RULE_NAMES);
  assert.deepEqual(parseEnabledRules('runner_not_ready, freshness_breach'), ['runner_not_ready', 'freshness_breach']);
  assert.throws(() => parseEnabledRules('nope'), /unknown rule nope/);
  const cfg = loadConfig({ SLUICE_ALERT_WEBHOOKS: 'slack:https://hooks.slack.test/T/B/s3cr3t' });
  assert.equal(cfg.alertWebhooks[0].format, 'slack');
  assert.equal(redactedConfig(cfg).SLUICE_ALERT_WEBHOOKS, '[redacted]', 'never printed by config print');
  assert.throws(
    () => loadConfig({ SLUICE_ALERT_WEBHOOKS: 'notaurl/s3cr3t' }),
    (err: Error) => !err.message.includes('s3cr3t') && /SLUICE_ALERT_WEBHOOKS/.test(err.message),
  );
});

test('a throttled source is measured at most once per interval; a failure is tried again next time', async () => {
  let t = 0;
  let calls = 0;
  let fail = false;
  const source = throttled(
    {
      name: 's',
      rules: ['warehouse_test_failing'],
      observe: async () => {
        calls++;
        if (fail) throw new Error('down');
        return [{ rule: 'warehouse_test_failing', subject: 'x', state: 'ok', summary: `call ${calls}`, evidence: {} }];
      },
    },
    1000,
    () => t,
  );
  const signal = new AbortController().signal;
  assert.equal((await source.observe(signal))[0].summary, 'call 1');
  t = 999;
  assert.equal((await source.observe(signal))[0].summary, 'call 1');
  t = 1000;
  fail = true;
  await assert.rejects(source.observe(signal), /down/);
  fail = false;
  assert.equal((await source.observe(signal))[0].summary, 'call 3');
  assert.equal(calls, 3);
});
