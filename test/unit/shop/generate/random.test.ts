import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRng,
  DailyRhythmSampler,
  DAILY_RHYTHM,
  WeightedSampler,
  ZipfSampler,
} from '../../../../src/shop/generate/random.ts';
import { parseDuration, TokenBucket } from '../../../../src/core/pacing.ts';

test('the same seed gives the same sequence; different seeds differ; forks are independent and stable', () => {
  const draw = (seed: string | number) => {
    const r = createRng(seed);
    return [
      r.nextU32(),
      r.next(),
      r.int(1, 6),
      r.uuid(),
      r.normal(10, 2),
      r.pick(['a', 'b', 'c']),
      r.weighted(['x', 'y'], [1, 3]),
    ];
  };
  assert.deepEqual(draw('seed-1'), draw('seed-1'));
  assert.deepEqual(draw(42), draw('42'), 'numbers and their string form are the same seed');
  assert.notDeepEqual(draw('seed-1'), draw('seed-2'));
  const a = createRng('s');
  const f1 = a.fork('x').nextU32();
  a.nextU32();
  assert.equal(a.fork('x').nextU32(), f1, 'a fork depends on the seed and label only');
  assert.notEqual(a.fork('y').nextU32(), f1);
  // A pinned value guards the algorithm against accidental change (generated data would shift).
  const pinned = createRng('pinned');
  assert.deepEqual([pinned.nextU32(), pinned.nextU32(), pinned.nextU32()], [1545720062, 515011716, 41770970]);
  assert.equal(createRng('pinned').uuid(), 'fed0215c-8474-421e-9a5f-7d0233726cd1');
});

test('uniform helpers stay in range and cover it', () => {
  const r = createRng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const f = r.next();
    assert.ok(f >= 0 && f < 1);
    const n = r.int(-3, 3);
    assert.ok(Number.isInteger(n) && n >= -3 && n <= 3);
    seen.add(n);
  }
  assert.equal(seen.size, 7);
  const shuffled = r.shuffled([1, 2, 3, 4, 5]);
  assert.deepEqual([...shuffled].sort(), [1, 2, 3, 4, 5]);
  const distinct = r.distinctInts(10, 20);
  assert.equal(new Set(distinct).size, 10);
});

test('uuid() is an RFC 4122 version-4 UUID, unique in practice', () => {
  const r = createRng('uuids');
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = r.uuid();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 10_000);
  assert.equal(createRng('uuids').uuid(), createRng('uuids').uuid());
});

test('Zipf sampling is skewed: the top rank takes about its theoretical share, far above uniform', () => {
  const n = 1000;
  const zipf = new ZipfSampler(n, 1.07);
  const r = createRng('zipf');
  const counts = new Array<number>(n).fill(0);
  const draws = 200_000;
  for (let i = 0; i < draws; i++) counts[zipf.sample(r)]++;
  const p0 = zipf.probability(0);
  assert.ok(Math.abs(counts[0] / draws - p0) < 0.01, `top share ${counts[0] / draws} vs ${p0}`);
  assert.ok(counts[0] / draws > 50 / n, 'the top item is at least 50 times a uniform share');
  assert.ok(counts[0] > counts[1] && counts[1] > counts[9] && counts[9] > counts[99]);
  const top10 = counts.slice(0, 10).reduce((a, b) => a + b, 0);
  assert.ok(top10 / draws > 0.3, `top 10 of 1000 take ${top10 / draws}`);
  // probabilities sum to 1
  let total = 0;
  for (let i = 0; i < n; i++) total += zipf.probability(i);
  assert.ok(Math.abs(total - 1) < 1e-9);
});

test('weighted sampler follows its weights', () => {
  const s = new WeightedSampler(['a', 'b', 'c'], [1, 2, 7]);
  const r = createRng('w');
  const c: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 100_000; i++) c[s.sample(r)]++;
  assert.ok(
    Math.abs(c.a / 100_000 - 0.1) < 0.01 &&
      Math.abs(c.b / 100_000 - 0.2) < 0.01 &&
      Math.abs(c.c / 100_000 - 0.7) < 0.01,
    JSON.stringify(c),
  );
  assert.throws(() => new WeightedSampler(['a'], [0]));
});

test('normal() has the requested mean and spread', () => {
  const r = createRng('normal');
  let sum = 0,
    sq = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const x = r.normal(100, 15);
    sum += x;
    sq += x * x;
  }
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  assert.ok(Math.abs(mean - 100) < 0.5, `mean ${mean}`);
  assert.ok(Math.abs(sd - 15) < 0.5, `sd ${sd}`);
  assert.ok(r.normalClamped(0, 100, -1, 1) <= 1);
});

test('daily rhythm sampler stays in range and follows the hourly profile', () => {
  const start = Date.UTC(2025, 0, 1);
  const end = start + 30 * 86_400_000;
  const s = new DailyRhythmSampler(start, end);
  const r = createRng('daily');
  const byHour = new Array<number>(24).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const t = s.sample(r);
    assert.ok(t >= start && t < end);
    byHour[new Date(t).getUTCHours()]++;
  }
  const peak = DAILY_RHYTHM.indexOf(Math.max(...DAILY_RHYTHM));
  const trough = DAILY_RHYTHM.indexOf(Math.min(...DAILY_RHYTHM));
  assert.ok(byHour[peak] > byHour[trough] * 8, `peak ${byHour[peak]} vs trough ${byHour[trough]}`);
  assert.equal(
    new DailyRhythmSampler(start, end).sample(createRng(1)),
    new DailyRhythmSampler(start, end).sample(createRng(1)),
  );
});

test('token bucket admits the configured rate; durations parse', () => {
  let now = 0;
  const b = new TokenBucket(100, 10, () => now);
  assert.equal(b.take(1000), 1);
  now += 50; // 5 tokens
  assert.equal(b.take(1000), 5);
  now += 1000; // capped at the burst
  assert.equal(b.take(1000), 10);
  assert.ok(b.waitMs() > 0);
  assert.equal(new TokenBucket(0).take(500), 500, 'rate 0 is unlimited');
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('10'), 10_000);
  assert.throws(() => parseDuration('soon'), /duration/);
});
