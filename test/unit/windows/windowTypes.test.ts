import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignWindows, hopping, tumbling } from '../../../src/windows/windowTypes.ts';
import { WatermarkTracker } from '../../../src/windows/watermarks.ts';
import {
  average,
  combine,
  count,
  distinct,
  distinctCount,
  max,
  min,
  reducer,
  sum,
  sumDistinct,
} from '../../../src/windows/aggregations.ts';

test('tumbling and hopping windows contain the timestamp', () => {
  assert.deepEqual(assignWindows(tumbling(60_000), 125_000), [{ start: 120_000, end: 180_000 }]);
  assert.deepEqual(assignWindows(hopping(60_000, 20_000), 125_000), [
    { start: 80_000, end: 140_000 },
    { start: 100_000, end: 160_000 },
    { start: 120_000, end: 180_000 },
  ]);
});

test('the watermark is the minimum over active partitions, ignores idle ones, advances with the clock when all are idle, never decreases', () => {
  const t = new WatermarkTracker(1000, 5000);
  t.observe('a', 10_000, 0);
  t.observe('b', 20_000, 0);
  assert.equal(t.watermark(0), 9000);
  t.observe('b', 30_000, 4000);
  assert.equal(t.watermark(6000), 29_000, 'a idle for 6s: left out');
  assert.equal(
    t.watermark(60_000),
    29_000 + (60_000 - 4000 - 5000),
    'all idle: b goes on at wall-clock speed after its idle timeout',
  );
  t.observe('a', 11_000, 60_001);
  assert.equal(t.watermark(60_002), 80_000, 'never moves back');
});

test('aggregations accumulate and merge', () => {
  const vals = [3, 1, 4, 1, 5];
  const run = <A>(agg: { init(): A; add(a: A, v: number): A; merge(a: A, b: A): A }) => {
    const left = vals.slice(0, 2).reduce(agg.add, agg.init());
    const right = vals.slice(2).reduce(agg.add, agg.init());
    return agg.merge(left, right);
  };
  assert.equal(run(count<number>()), 5);
  assert.equal(run(sum((v: number) => v)), 14);
  assert.equal(run(min((v: number) => v)), 1);
  assert.equal(run(max((v: number) => v)), 5);
  assert.deepEqual(run(average((v: number) => v)), { sum: 14, n: 5 });
  assert.equal(distinctCount(run(distinct((v: number) => v))), 4);
  assert.equal(
    run(
      sumDistinct(
        (v: number) => v,
        (v: number) => v,
      ),
    ).total,
    13,
  );
  assert.equal(
    run(
      reducer(
        () => 0,
        (a: number, v: number) => a * 10 + v,
        (a, b) => a * 1000 + b,
      ),
    ),
    31_415,
  );
  assert.deepEqual(run(combine({ n: count<number>(), s: sum((v: number) => v) })), { n: 5, s: 14 });
});

test('distinctCount follows adds, repeats, merges and accumulators restored from a changelog', () => {
  const agg = distinct((v: string) => v);
  const acc = agg.init();
  for (const v of ['a', 'b', 'a']) agg.add(acc, v);
  assert.equal(distinctCount(acc), 2);
  agg.add(acc, 'c');
  agg.add(acc, 'c');
  assert.equal(distinctCount(acc), 3, 'counted before and after more keys');
  const restored = JSON.parse(JSON.stringify(acc)) as Record<string, 1>;
  assert.equal(distinctCount(restored), 3, 'a restored accumulator is counted');
  agg.add(restored, 'd');
  assert.equal(distinctCount(restored), 4);
  const other = agg.add(agg.add(agg.init(), 'd'), 'e');
  const merged = agg.merge(restored, other);
  assert.equal(distinctCount(merged), 5, 'a merge counts again');
  agg.add(merged, 'f');
  assert.equal(distinctCount(merged), 6);
});
