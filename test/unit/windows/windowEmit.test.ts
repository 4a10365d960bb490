import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadType } from '../../../src/domain/schemas.ts';
import type { Ack, Output } from '../../../src/topology/types.ts';
import { count } from '../../../src/windows/aggregations.ts';
import { createWindowOperator, DEFAULT_EMIT_EVERY_MS, type WindowSpec } from '../../../src/windows/windowOperator.ts';
import type { WatermarkTracker } from '../../../src/windows/watermarks.ts';
import { tumbling } from '../../../src/windows/windowTypes.ts';

/**
 * Provisional results go out on change, coalesced per window: the first change after a quiet
 * spell at the end of its batch (the light tick), later ones at most every `emitEveryMs` through
 * `emitDue`, each carrying the window's latest value. Without `emitDue` a held-back result waited
 * for the next batch or the 200 ms full tick.
 */

type Ev = { t: number; k: string };
const T = Date.UTC(2026, 10, 1);
const noAck: Ack = { retain() {}, release() {}, fail() {} };

function setup(emitEveryMs?: number) {
  const spec: WindowSpec<Ev, number, object> = {
    store: 's',
    output: 'metrics.active_sessions',
    window: tumbling(60_000),
    key: (e) => e.k,
    eventTime: (e) => e.t,
    aggregate: count<Ev>(),
    outOfOrdernessMs: 2_000,
    graceMs: 1_000,
    idleTimeoutMs: 3_600_000,
    ...(emitEveryMs === undefined ? {} : { emitEveryMs }),
    result: (_k, w, n, m) => ({ window_start: w.start, window_end: w.end, count: n, final: m.final, emitted_at: 0 }),
  };
  const clock = { now: T };
  const out: Output[] = [];
  const trackers = new Map<string, WatermarkTracker>();
  const op = createWindowOperator(spec, {
    topology: 't',
    now: () => clock.now,
    emit: (o) => {
      out.push(o);
    },
    outputSchema: { name: 'metrics.active_sessions', type: loadType('metrics.active_sessions') },
    tracker: (topic, create) => trackers.get(topic) ?? trackers.set(topic, create()).get(topic)!,
  });
  let offset = 0;
  const push = (k: string, ack: Ack = noAck) =>
    op.push({
      value: { t: clock.now, k },
      key: k,
      ack,
      source: {
        topic: 'in',
        partition: 0,
        offset: String(offset++),
        key: null,
        value: null,
        headers: {},
        timestamp: 0,
      },
    });
  const results = () =>
    out
      .filter((o) => o.topic === 'metrics.active_sessions')
      .map((o) => [String(o.key).split('|')[1], (o.value as { count: number }).count] as [string, number]);
  return { op, clock, push, results, out };
}

test('a window changed again within emitEveryMs sends one result with its latest value when the interval is up', () => {
  const { op, clock, push, results } = setup(50);
  push('a');
  op.tick('results');
  assert.deepEqual(results(), [['a', 1]], 'the first change goes out at the end of its batch');

  clock.now += 10;
  push('a');
  op.tick('results');
  clock.now += 10;
  push('a');
  op.tick('results');
  op.emitDue();
  assert.deepEqual(results(), [['a', 1]], 'held back: the last result is 20 ms old');

  clock.now += 30;
  op.emitDue();
  assert.deepEqual(
    results(),
    [
      ['a', 1],
      ['a', 3],
    ],
    'one result for both changes, 50 ms after the first',
  );
  clock.now += 100;
  op.emitDue();
  op.tick('results');
  assert.equal(results().length, 2, 'nothing changed since: nothing more');
});

test('coalescing is per window: a quiet window goes out at once while a busy one waits', () => {
  const { op, clock, push, results } = setup(50);
  push('busy');
  op.tick('results');
  clock.now += 5;
  push('busy');
  push('quiet');
  op.tick('results');
  assert.deepEqual(results(), [
    ['busy', 1],
    ['quiet', 1],
  ]);
  clock.now += 45;
  op.emitDue();
  assert.deepEqual(results().at(-1), ['busy', 2]);
});

test('the default interval is short enough for a live feed', () => {
  assert.ok(DEFAULT_EMIT_EVERY_MS <= 50, `${DEFAULT_EMIT_EVERY_MS} ms`);
  const { op, clock, push, results } = setup();
  push('a');
  op.tick('results');
  clock.now += 1;
  push('a');
  op.tick('results');
  clock.now += DEFAULT_EMIT_EVERY_MS;
  op.emitDue();
  assert.deepEqual(results(), [
    ['a', 1],
    ['a', 2],
  ]);
});

test('a results tick sends provisional results but leaves the state to the next state tick, one record per window', () => {
  const { op, clock, push, results, out } = setup(0);
  let released = 0;
  const counted: Ack = { retain() {}, release: () => void released++, fail() {} };
  const changelog = () => out.filter((o) => o.kind === 'changelog' && o.key !== '__watermark__');
  for (let i = 0; i < 5; i++) {
    clock.now += 10;
    push('a', counted);
    push('b', counted);
    op.tick('results');
  }
  assert.equal(results().length, 10, "every batch's change went out as a provisional result");
  assert.equal(changelog().length, 0, 'no state written by results ticks');
  assert.equal(released, 0, 'the inputs stay held until their state is durable');
  op.tick('state');
  assert.deepEqual(
    changelog().map((o) => o.key?.toString().split('|')[1]),
    ['a', 'b'],
    'one changelog record per changed window, whatever the batches',
  );
  const checkpoint = out.filter((o) => o.key === '__watermark__');
  assert.equal(checkpoint.length, 1, 'the checkpoint follows the windows');
  assert.equal(checkpoint[0].acks.length, 10, 'and holds every input they hold');
  op.tick('state');
  assert.equal(changelog().length, 2, 'nothing changed since: nothing rewritten');
});

test('a record sent to the late topic has its checkpoint written in the same tick, even a results tick', () => {
  const { op, clock, push, out } = setup(0);
  push('a');
  clock.now += 120_000;
  push('a'); // event time moves on: the first window is past its end and grace
  op.tick('state');
  const before = out.length;
  clock.now = T;
  push('a'); // a record for the closed window: late
  op.tick('results');
  const written = out.slice(before);
  assert.equal(written.filter((o) => o.kind === 'late').length, 1);
  // Without the checkpoint, a crash before the next state tick re-delivers the record, the restored
  // state does not know it was seen, and it goes to the late topic a second time.
  assert.equal(written.filter((o) => o.key === '__watermark__').length, 1, 'the checkpoint past it');
});
