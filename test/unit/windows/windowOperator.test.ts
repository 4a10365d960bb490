import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { count } from '../../../src/windows/aggregations.ts';
import { session, tumbling, type WindowKind } from '../../../src/windows/windowTypes.ts';
import type { ClickEvent } from '../../../src/domain/types.generated.ts';
import { click } from '../topologies/fixtures.ts';

const T = Date.UTC(2026, 10, 1, 12, 0, 0);

function countingTopology(window: WindowKind, outOfOrdernessMs = 1000) {
  return defineTopology({
    name: 'counts',
    sources: [{ topic: 'web.clickstream' }],
    outputs: [{ topic: 'metrics.active_sessions', schema: 'metrics.active_sessions' }],
    pipeline: ({ sources, ops }) =>
      sources['web.clickstream'].pipe(
        ops.decode<ClickEvent>(),
        ops.window({
          store: 'counts',
          output: 'metrics.active_sessions',
          window,
          key: (e: ClickEvent) => e.session_id ?? '-',
          eventTime: (e: ClickEvent) => e.event_time,
          aggregate: count<ClickEvent>(),
          result: (_k, w, n, m) => ({
            window_start: w.start,
            window_end: w.end,
            count: n,
            final: m.final,
            emitted_at: m.emittedAt,
          }),
          outOfOrdernessMs,
          graceMs: 500,
          idleTimeoutMs: 3_600_000,
          emitEveryMs: 1000,
        }),
      ),
  });
}

type Result = { window_start: number; count: number; final: boolean };

test('tumbling windows: provisional results while open, one final on close, late records to <topology>.late; acks wait for the changelog', async () => {
  const d = await createTestDriver(countingTopology(tumbling(60_000)), { now: T });
  d.pipeInput('web.clickstream', click('a', { event_time: T + 1_000 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('b', { event_time: T + 30_000 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('c', { event_time: T + 20_000 }), { key: 's1' }); // out of order, in time
  const results = () => d.readOutput('metrics.active_sessions').map((r) => r.value as Result);
  assert.deepEqual(
    results().map((r) => [r.count, r.final]),
    [[1, false]],
    'one provisional at once, the next after emitEveryMs',
  );
  d.advanceTime(1000);
  assert.deepEqual([results().at(-1)!.count, results().at(-1)!.final], [3, false]);
  // The changelog holds the window's state; every input is acknowledged through it.
  const changelog = d.readOutput('sluice.counts.counts.changelog');
  assert.ok(changelog.some((r) => (r.value as { a: number })?.a === 3));
  assert.equal(d.committed('web.clickstream'), 3);

  // wm → T+60.6s: window [T, T+60s) closes
  d.pipeInput('web.clickstream', click('d', { event_time: T + 61_600 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('e', { event_time: T + 59_000 }), { key: 's1' }); // too late
  const finals = results().filter((r) => r.final);
  assert.deepEqual(
    finals.map((r) => [r.window_start, r.count]),
    [[T, 3]],
  );
  const late = d.readOutput('counts.late');
  assert.equal(late.length, 1);
  assert.equal(late[0].headers['sluice.late.lateness.ms'], String(T + 60_600 - (T + 60_500)));
  assert.ok(
    d.readOutput('sluice.counts.counts.changelog').some((r) => r.key === `${T}|s1` && r.rawValue === null),
    'closed window tombstoned',
  );
  assert.equal(d.committed('web.clickstream'), 5);
});

test('session windows merge events closer than the gap into one session', async () => {
  const d = await createTestDriver(countingTopology(session(10_000), 60_000), { now: T });
  d.pipeInput('web.clickstream', click('a', { event_time: T }), { key: 's1' });
  d.pipeInput('web.clickstream', click('b', { event_time: T + 25_000 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('c', { event_time: T + 8_000 }), { key: 's1' }); // joins the first session
  d.pipeInput('web.clickstream', click('d', { event_time: T + 16_000 }), { key: 's1' }); // bridges both
  // its watermark closes everything before
  d.pipeInput('web.clickstream', click('e', { event_time: T + 200_000 }), { key: 's1' });
  const finals = d
    .readOutput('metrics.active_sessions')
    .map((r) => r.value as Result & { window_end: number })
    .filter((r) => r.final);
  assert.deepEqual(
    finals.map((r) => [r.window_start, r.window_end, r.count]),
    [[T, T + 35_000, 4]],
  );
});
