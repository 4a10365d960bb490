import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withRetry, type RetryClock } from '../../../src/core/retry.ts';

/** A virtual clock: sleeps advance time at once and are recorded, so no test waits for real. */
function virtualClock(random: () => number): RetryClock & { sleeps: number[] } {
  let now = 1_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    random,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

const failing = (times: number, err: unknown = new Error('not now')) => {
  let calls = 0;
  const fn = async () => {
    calls++;
    if (calls <= times) throw err;
    return 'done';
  };
  return { fn, calls: () => calls };
};

test('full jitter: each sleep is uniform in [0, min(maxMs, initialMs·2^attempt)]', async () => {
  const top = virtualClock(() => 0.999_999);
  await withRetry(failing(6).fn, { retries: 10, initialMs: 100, maxMs: 1000 }, top);
  assert.deepEqual(top.sleeps, [100, 200, 400, 800, 1000, 1000], 'just under the cap, which doubles up to maxMs');
  const bottom = virtualClock(() => 0);
  await withRetry(failing(3).fn, { retries: 10, initialMs: 100, maxMs: 1000 }, bottom);
  assert.deepEqual(bottom.sleeps, [0, 0, 0], 'the low end is 0, not half the cap (that would be equal jitter)');
  const middle = virtualClock(() => 0.25);
  await withRetry(failing(3).fn, { retries: 10, initialMs: 100, maxMs: 1000 }, middle);
  assert.deepEqual(middle.sleeps, [25, 50, 100]);
});

test('a non-retriable error is thrown at once, untouched', async () => {
  const clock = virtualClock(() => 0.5);
  const fatal = new Error('fatal');
  const f = failing(5, fatal);
  await assert.rejects(
    withRetry(f.fn, { retries: 10, initialMs: 100, maxMs: 1000, retriable: (e) => e !== fatal }, clock),
    (e) => e === fatal,
  );
  assert.equal(f.calls(), 1);
  assert.deepEqual(clock.sleeps, []);
});

test('retries stop at the attempt limit and throw the last error', async () => {
  const clock = virtualClock(() => 0.5);
  const f = failing(100);
  await assert.rejects(withRetry(f.fn, { retries: 3, initialMs: 100, maxMs: 1000 }, clock), /not now/);
  assert.equal(f.calls(), 4, 'the first attempt and 3 retries');
});

test('maxElapsedMs bounds the retries by time: no sleep may end past it', async () => {
  const clock = virtualClock(() => 0.999_999);
  const f = failing(1000);
  await assert.rejects(
    withRetry(f.fn, { retries: Infinity, initialMs: 100, maxMs: 1000, maxElapsedMs: 5000 }, clock),
    /not now/,
  );
  const slept = clock.sleeps.reduce((a, b) => a + b, 0);
  assert.ok(slept <= 5000, `slept ${slept} ms in all`);
  assert.ok(slept > 4000, `kept retrying while time was left (slept ${slept} ms)`);
  assert.equal(f.calls(), clock.sleeps.length + 1);
});

test('an aborted signal stops the retries with the last error', async () => {
  const clock = virtualClock(() => 0.5);
  const ac = new AbortController();
  let calls = 0;
  const fn = async () => {
    calls++;
    if (calls === 2) ac.abort();
    throw new Error(`attempt ${calls}`);
  };
  await assert.rejects(
    withRetry(fn, { retries: Infinity, initialMs: 100, maxMs: 1000, signal: ac.signal }, clock),
    /attempt 2/,
  );
  assert.equal(calls, 2);
});

test('onRetry hears each retry with its number and delay', async () => {
  const clock = virtualClock(() => 0.5);
  const heard: [number, number][] = [];
  assert.equal(
    await withRetry(
      failing(2).fn,
      { retries: 5, initialMs: 100, maxMs: 1000, onRetry: (_e, attempt, delay) => heard.push([attempt, delay]) },
      clock,
    ),
    'done',
  );
  assert.deepEqual(heard, [
    [1, 50],
    [2, 100],
  ]);
});

test('minMs puts a floor under each sleep: uniform in [minMs, cap]', async () => {
  const low = virtualClock(() => 0);
  await withRetry(failing(2).fn, { retries: 5, initialMs: 1000, maxMs: 1000, minMs: 200 }, low);
  assert.deepEqual(low.sleeps, [200, 200]);
  const high = virtualClock(() => 0.999_999);
  await withRetry(failing(2).fn, { retries: 5, initialMs: 1000, maxMs: 1000, minMs: 200 }, high);
  assert.deepEqual(high.sleeps, [1000, 1000]);
  const floorOverCap = virtualClock(() => 0.5);
  await withRetry(failing(1).fn, { retries: 5, initialMs: 100, maxMs: 100, minMs: 300 }, floorOverCap);
  assert.deepEqual(floorOverCap.sleeps, [300], 'a floor above the cap wins');
});
