import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAck } from '../../../src/engine/ack.ts';
import { loadType } from '../../../src/domain/schemas.ts';
import type { Envelope, Output } from '../../../src/topology/types.ts';
import { count } from '../../../src/windows/aggregations.ts';
import { createWindowOperator, type WindowSpec } from '../../../src/windows/windowOperator.ts';
import type { WatermarkTracker } from '../../../src/windows/watermarks.ts';
import { tumbling } from '../../../src/windows/windowTypes.ts';

type Ev = { t: number };
const T = Date.UTC(2026, 10, 1);
const spec: WindowSpec<Ev, number, object> = {
  store: 's',
  output: 'metrics.active_sessions',
  window: tumbling(60_000),
  key: () => 'k',
  eventTime: (e) => e.t,
  aggregate: count<Ev>(),
  outOfOrdernessMs: 0,
  graceMs: 0,
  idleTimeoutMs: 3_600_000,
  emitEveryMs: 0,
  result: (_k, w, n, m) => ({
    window_start: w.start,
    window_end: w.end,
    count: n,
    final: m.final,
    emitted_at: m.emittedAt,
  }),
};

function runtime(out: Output[]) {
  const trackers = new Map<string, WatermarkTracker>();
  return {
    topology: 't',
    now: () => T,
    emit: (o: Output) => {
      for (const a of o.acks) a.retain();
      out.push(o);
      for (const a of o.acks) a.release();
    },
    outputSchema: { name: 'metrics.active_sessions', type: loadType('metrics.active_sessions') },
    tracker: (topic: string, create: () => WatermarkTracker) =>
      trackers.get(topic) ?? trackers.set(topic, create()).get(topic)!,
  };
}

const env = (offset: number, t: number): Envelope<Ev> => ({
  value: { t },
  key: 'k',
  ack: createAck(
    () => {},
    () => {},
  ),
  source: { topic: 'in', partition: 0, offset: String(offset), key: null, value: null, headers: {}, timestamp: t },
});

test('after a restore, records re-delivered from before the checkpoint are not counted twice nor sent to the late topic', () => {
  const first: Output[] = [];
  const a = createWindowOperator(spec, runtime(first));
  const events = [T + 1000, T + 2000, T + 61_000, T + 3000 /* late */, T + 62_000];
  events.slice(0, 4).forEach((t, i) => a.push(env(i, t)));
  a.tick();
  // Crash here: offsets 0..3 are in the changelog; nothing was committed, so all are re-delivered.
  const changelog = first.filter((o) => o.topic === a.changelog);
  const second: Output[] = [];
  const b = createWindowOperator(spec, runtime(second));
  for (const o of changelog) b.restore(o.partition ?? 0, String(o.key), o.value as Buffer | null);
  events.forEach((t, i) => b.push(env(i, t)));
  b.tick();
  assert.equal(second.filter((o) => o.topic === 't.late').length, 0, 'the late record was not re-sent');
  const current = second
    .filter((o) => o.topic === 'metrics.active_sessions')
    .map((o) => o.value as { window_start: number; count: number });
  assert.deepEqual(
    current.filter((r) => r.window_start === T + 60_000).map((r) => r.count),
    [2],
    'offset 4 applied once, offsets 2 not twice',
  );
  assert.equal(first.filter((o) => o.topic === 't.late').length, 1);
});

test('a light tick hands changed windows to the changelog (their inputs are then acknowledged) but closes nothing; the full tick closes', () => {
  const out: Output[] = [];
  const op = createWindowOperator(spec, runtime(out));
  let acked = 0;
  const e = (offset: number, t: number): Envelope<Ev> => ({
    ...env(offset, t),
    ack: createAck(
      () => acked++,
      () => {},
    ),
  });
  for (const [i, t] of [T + 1000, T + 2000, T + 61_000].entries()) {
    const x = e(i, t);
    op.push(x);
    x.ack.release();
  }
  assert.equal(acked, 0, 'held until the changelog has them');
  op.tick('state');
  assert.equal(acked, 3);
  assert.equal(
    out.filter((o) => o.topic === 'metrics.active_sessions' && (o.value as { final: boolean }).final).length,
    0,
    'no final yet',
  );
  op.tick('full');
  assert.equal(
    out.filter((o) => o.topic === 'metrics.active_sessions' && (o.value as { final: boolean }).final).length,
    1,
  );
});

const envOn = (partition: number, offset: number, t: number): Envelope<Ev> => ({
  ...env(offset, t),
  source: { topic: 'in', partition, offset: String(offset), key: null, value: null, headers: {}, timestamp: t },
});

test('regression (CI, windowFinals at_least_once: a final one above the offline count): a re-delivered record its restored window already holds is neither late nor counted again, though event time moved past the window meanwhile', () => {
  const first: Output[] = [];
  const a = createWindowOperator(spec, runtime(first));
  a.push(envOn(0, 0, T + 1000));
  a.tick('state');
  // Crash after the window's changelog record, before the checkpoint that would cover offset 0.
  const windowRecord = first.filter((o) => o.topic === a.changelog && o.key !== '__watermark__');
  assert.equal(windowRecord.length, 1);
  const second: Output[] = [];
  const b = createWindowOperator(spec, runtime(second));
  for (const o of windowRecord) b.restore(0, String(o.key), o.value as Buffer | null);
  // Another partition moves event time past the window before offset 0 is re-delivered.
  b.push(envOn(1, 0, T + 120_000));
  b.push(envOn(0, 0, T + 1000));
  b.tick();
  assert.deepEqual(
    second.filter((o) => o.topic === 't.late').map((o) => o.source?.offset),
    [],
    'not sent to the late topic',
  );
  const finals = second
    .filter((o) => o.topic === 'metrics.active_sessions')
    .map((o) => o.value as { window_start: number; count: number; final: boolean })
    .filter((r) => r.window_start === T && r.final);
  assert.deepEqual(
    finals.map((r) => r.count),
    [1],
    'its one contribution, once',
  );
});
