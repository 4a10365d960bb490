import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoggedUpdate } from '../../../src/feed/feedUpdate.ts';
import { ReplayTails } from '../../../src/feed/replayTails.ts';

const TP = 'metrics.m/0';

function update(offset: number): LoggedUpdate {
  return { tp: TP, offset, metric: 'm', key: `k${offset}`, windowEnd: 0, body: '{' };
}

test('reads [from, to) of what it holds, skipping offsets with no update', () => {
  const tails = new ReplayTails(10);
  tails.start(TP, 100);
  for (const o of [100, 101, 103, 104]) tails.push(update(o));
  assert.deepEqual(
    tails.read(TP, 101, 104)?.map((u) => u.offset),
    [101, 103],
  );
  assert.deepEqual(tails.read(TP, 105, 110), []);
  assert.equal(tails.read(TP, 99, 104), undefined, 'before the start of memory');
  assert.equal(tails.read('metrics.other/0', 0, 1), undefined, 'an unknown partition');
});

test('trims to the newest perPartition updates once it holds twice as many', () => {
  const tails = new ReplayTails(3);
  tails.start(TP, 0);
  for (let o = 0; o < 5; o++) tails.push(update(o));
  assert.equal(tails.read(TP, 0, 10)?.length, 5, 'not trimmed below twice the size');
  tails.push(update(5));
  assert.equal(tails.read(TP, 2, 10), undefined, 'offsets 0-2 are gone');
  assert.deepEqual(
    tails.read(TP, 3, 10)?.map((u) => u.offset),
    [3, 4, 5],
  );
});

test('a partition it never started begins at its first update; a dropped one is forgotten', () => {
  const tails = new ReplayTails(10);
  tails.push(update(7));
  assert.deepEqual(
    tails.read(TP, 7, 8)?.map((u) => u.offset),
    [7],
  );
  tails.drop(TP);
  assert.equal(tails.read(TP, 7, 8), undefined);
});
