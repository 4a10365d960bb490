import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardUrlOf, observeSources } from '../../../src/alerts/alertEvaluator.ts';
import type { Observation, SignalSource } from '../../../src/alerts/observation.ts';
import { loadConfig } from '../../../src/config/config.ts';

const seen = (subject: string): Observation => ({
  rule: 'runner_not_ready',
  subject,
  state: 'ok',
  summary: subject,
  evidence: {},
});

test('observeSources: what answered, in the sources order; a failing, slow or still busy source decides nothing', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const slow: SignalSource = {
    name: 'slow',
    rules: ['warehouse_test_failing'],
    observe: async () => {
      await gate;
      return [];
    },
  };
  const sources: SignalSource[] = [
    {
      name: 'late',
      rules: ['runner_not_ready'],
      observe: () => new Promise((r) => setTimeout(() => r([seen('b')]), 20)),
    },
    {
      name: 'failing',
      rules: ['dlq_rate_high'],
      observe: async () => {
        throw new Error('down');
      },
    },
    slow,
    { name: 'early', rules: ['freshness_breach'], observe: async () => [{ ...seen('a'), rule: 'freshness_breach' }] },
  ];
  const stopping = new AbortController().signal;
  const first = await observeSources(sources, 100, stopping);
  assert.deepEqual(
    first.observations.map((o) => o.subject),
    ['b', 'a'],
  );
  assert.deepEqual([...first.decided].sort(), ['freshness_breach', 'runner_not_ready']);
  // The slow source timed out and is still measuring: the next evaluation does not ask it again.
  const second = await observeSources([slow], 100, stopping);
  assert.equal(second.decided.size, 0);
  release();
  await gate;
  await new Promise((r) => setImmediate(r));
  const third = await observeSources([slow], 100, stopping);
  assert.deepEqual([...third.decided], ['warehouse_test_failing']);
});

test('the dashboard link: the setting, else the runner address (a wildcard bind becomes loopback)', () => {
  assert.equal(dashboardUrlOf(loadConfig({})), 'http://127.0.0.1:8080/');
  assert.equal(
    dashboardUrlOf(loadConfig({ SLUICE_HTTP_HOST: '0.0.0.0', SLUICE_HTTP_PORT: '9000' })),
    'http://127.0.0.1:9000/',
  );
  assert.equal(
    dashboardUrlOf(loadConfig({ SLUICE_ALERT_DASHBOARD_URL: 'https://sluice.example/' })),
    'https://sluice.example/',
  );
});
