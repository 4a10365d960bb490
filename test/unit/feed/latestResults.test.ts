import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoggedUpdate } from '../../../src/feed/feedUpdate.ts';
import { LatestResults } from '../../../src/feed/latestResults.ts';

function update(metric: string, key: string, windowEnd: number, offset = 0): LoggedUpdate {
  return { tp: `metrics.${metric}/0`, offset, metric, key, windowEnd, body: `{"key":"${key}"` };
}

test('keeps the latest result per key, oldest window first', () => {
  const results = new LatestResults({ retentionMs: 1_000, maxEntries: 10, now: () => 5_000 });
  results.record(update('m', 'b', 4_800, 0));
  results.record(update('m', 'a', 4_500, 1));
  results.record(update('m', 'b', 4_800, 2));
  assert.equal(results.size, 2);
  assert.deepEqual(
    results.snapshot('m').map((u) => [u.key, u.offset]),
    [
      ['a', 1],
      ['b', 2],
    ],
  );
});

test('a result past the retention is not kept; a sweep drops those that aged since', () => {
  let now = 5_000;
  const results = new LatestResults({ retentionMs: 1_000, maxEntries: 10, now: () => now });
  results.record(update('m', 'old', 3_999));
  results.record(update('m', 'new', 4_500));
  assert.deepEqual(
    results.snapshot('m').map((u) => u.key),
    ['new'],
  );
  now = 6_000;
  results.sweep();
  assert.equal(results.size, 0);
  assert.deepEqual(results.snapshot('m'), []);
});

test('over maxEntries the oldest windows go first, down to 90 %', () => {
  const results = new LatestResults({ retentionMs: 1_000_000, maxEntries: 10, now: () => 100 });
  for (let i = 0; i < 11; i++) results.record(update('m', `k${i}`, i));
  assert.equal(results.size, 9);
  assert.deepEqual(
    results.snapshot('m').map((u) => u.key),
    ['k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'k10'],
  );
});

test('a tombstone forgets its key; a dropped metric forgets all of them', () => {
  const results = new LatestResults({ retentionMs: 1_000, maxEntries: 10, now: () => 0 });
  results.record(update('m', 'a', 0));
  results.record(update('m', 'b', 0));
  results.record(update('n', 'a', 0));
  results.forget('m', 'a');
  results.forget('m', 'missing');
  assert.equal(results.size, 2);
  results.dropMetric('m');
  assert.equal(results.size, 1);
  assert.deepEqual(
    results.snapshot('n').map((u) => u.key),
    ['a'],
  );
});
