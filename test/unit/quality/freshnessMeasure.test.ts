import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { countStates, formatFreshnessTable } from '../../../src/cli/freshnessCommand.ts';
import { createFreshnessMetrics } from '../../../src/quality/freshnessMetrics.ts';
import { parseFreshnessSlas } from '../../../src/quality/freshnessSlas.ts';
import { freshnessOf, newestValueSql } from '../../../src/quality/measureFreshness.ts';

const [orders, loaded] = parseFreshnessSlas('oltp.orders=15m/30m,warehouse:gold.fact_orders._loaded_at=1h/2h');
const NOW = Date.parse('2026-12-03T12:00:00Z');

test('the age is now minus the newest time, in seconds, and decides the state', () => {
  const fresh = freshnessOf(orders, { ms: NOW - 60_000 }, NOW);
  assert.deepEqual(fresh, {
    subject: 'oltp.orders',
    source: 'record timestamp',
    warnAfterSeconds: 900,
    breachAfterSeconds: 1800,
    newest: '2026-12-03T11:59:00.000Z',
    ageSeconds: 60,
    state: 'fresh',
  });
  assert.equal(freshnessOf(orders, { ms: NOW - 20 * 60_000 }, NOW).state, 'warn');
  const old = freshnessOf(orders, { ms: NOW - 31 * 60_000 }, NOW);
  assert.deepEqual([old.ageSeconds, old.state], [31 * 60, 'breach']);
  const table = freshnessOf(loaded, { ms: NOW - 90 * 60_000 }, NOW);
  assert.deepEqual([table.source, table.ageSeconds, table.state], ['max(_loaded_at)', 5400, 'warn']);
  // A producer clock ahead of ours: age 0, not a negative age that hides nothing.
  assert.equal(freshnessOf(orders, { ms: NOW + 5000 }, NOW).ageSeconds, 0);
});

test('an empty, missing or unmeasurable subject has no age and is in breach, saying why', () => {
  for (const problem of ['empty', 'missing', 'failed'] as const) {
    const r = freshnessOf(orders, { problem, message: `because ${problem}` }, NOW);
    assert.deepEqual(
      [r.ageSeconds, r.newest, r.state, r.problem, r.message],
      [null, null, 'breach', problem, `because ${problem}`],
    );
  }
});

test('the table query is one read of max(column), every name quoted', () => {
  assert.equal(newestValueSql(loaded as never), 'select max("_loaded_at") as newest from "gold"."fact_orders"');
});

test('the gauges: age in seconds and state 0/1/2 per subject; no age sample without an age', async () => {
  const registry = new client.Registry();
  const metrics = createFreshnessMetrics(registry);
  metrics.update([freshnessOf(orders, { ms: NOW - 20 * 60_000 }, NOW), freshnessOf(loaded, { ms: NOW - 60_000 }, NOW)]);
  let text = await registry.metrics();
  assert.match(text, /^sluice_freshness_age_seconds\{subject="oltp\.orders"\} 1200$/m);
  assert.match(text, /^sluice_freshness_state\{subject="oltp\.orders"\} 1$/m);
  assert.match(text, /^sluice_freshness_age_seconds\{subject="warehouse:gold\.fact_orders"\} 60$/m);
  assert.match(text, /^sluice_freshness_state\{subject="warehouse:gold\.fact_orders"\} 0$/m);

  metrics.update([freshnessOf(orders, { problem: 'missing', message: 'gone' }, NOW)]);
  text = await registry.metrics();
  assert.doesNotMatch(text, /sluice_freshness_age_seconds\{subject="oltp\.orders"\}/);
  assert.match(text, /^sluice_freshness_state\{subject="oltp\.orders"\} 2$/m);
});

test('the table: one line per subject with its ages and state, then the counts', () => {
  const results = [
    freshnessOf(orders, { ms: NOW - 20 * 60_000 }, NOW),
    freshnessOf(loaded, { problem: 'missing', message: 'table gold.fact_orders does not exist' }, NOW),
  ];
  assert.deepEqual(countStates(results), { fresh: 0, warn: 1, breach: 1 });
  const lines = formatFreshnessTable(results).split('\n');
  assert.match(lines[0], /^SUBJECT\s+SOURCE\s+AGE\s+WARN\s+BREACH\s+STATE\s+NEWEST \/ DETAIL$/);
  assert.match(
    lines[1],
    /^oltp\.orders\s+record timestamp\s+20 min\s+15 min\s+30 min\s+warn\s+2026-12-03T11:40:00\.000Z$/,
  );
  assert.match(
    lines[2],
    /^warehouse:gold\.fact_orders\s+max\(_loaded_at\)\s+-\s+1 h\s+2 h\s+breach\s+table .* not exist$/,
  );
  assert.equal(lines.at(-1), '2 subjects: 0 fresh, 1 warn, 1 in breach');
});
