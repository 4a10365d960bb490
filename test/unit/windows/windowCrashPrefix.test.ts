import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadType } from '../../../src/domain/schemas.ts';
import type { Ack, Envelope, Output } from '../../../src/topology/types.ts';
import { count } from '../../../src/windows/aggregations.ts';
import { createWindowOperator, type WindowSpec } from '../../../src/windows/windowOperator.ts';
import type { WatermarkTracker } from '../../../src/windows/watermarks.ts';
import { session, tumbling, type WindowKind } from '../../../src/windows/windowTypes.ts';
import { createRng } from '../../../src/shop/generate/random.ts';

/**
 * Finals stay final whatever prefix of the operator's writes survives a crash. The writes of one
 * runner reach Kafka in the order they were made (one producer, sequential sends), so a SIGKILL
 * leaves a prefix of them. For every prefix: restore a fresh operator from the changelog records
 * in it, re-deliver the inputs after the offset the runner could have committed (every output
 * holding an input's ack is in the prefix), run the same schedule on; then the finals of the
 * prefix plus those of the restarted operator have one value per window, equal to a run without
 * a crash.
 */

type Ev = { t: number; k: string };
const T = Date.UTC(2026, 10, 1);

function specOf(window: WindowKind): WindowSpec<Ev, number, object> {
  return {
    store: 's',
    output: 'metrics.active_sessions',
    window,
    key: (e) => e.k,
    eventTime: (e) => e.t,
    aggregate: count<Ev>(),
    outOfOrdernessMs: 2_000,
    graceMs: 1_000,
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
}

/** An ack that only remembers its record (which outputs hold it is read off `Output.acks`). */
interface TaggedAck extends Ack {
  record: number;
}
const tagged = (record: number): TaggedAck => ({ record, retain() {}, release() {}, fail() {} });

interface Step {
  record?: number;
  tick?: 'light' | 'full';
  now: number;
}

function events(seed: string, n: number): Ev[] {
  const rng = createRng(seed);
  const out: Ev[] = [];
  let t = T;
  for (let i = 0; i < n; i++) {
    t += rng.int(0, 1500);
    // Out of order, some beyond the grace period (late), a few keys.
    out.push({ t: t - (rng.next() < 0.15 ? rng.int(0, 8000) : 0), k: `k${rng.int(0, 3)}` });
  }
  out.push({ t: t + 3_600_000, k: 'sentinel' }); // closes everything before it
  return out;
}

function schedule(n: number): Step[] {
  const steps: Step[] = [];
  let now = T;
  for (let i = 0; i < n; i++) {
    steps.push({ record: i, now });
    if (i % 7 === 6) steps.push({ tick: 'light', now });
    if (i % 11 === 10) {
      now += 200;
      steps.push({ tick: 'full', now });
    }
  }
  steps.push({ tick: 'light', now }, { tick: 'full', now: now + 200 });
  return steps;
}

function operator(spec: WindowSpec<Ev, number, object>, out: Output[], clock: { now: number }) {
  const trackers = new Map<string, WatermarkTracker>();
  return createWindowOperator(spec, {
    topology: 't',
    now: () => clock.now,
    emit: (o: Output) => {
      out.push(o);
    },
    outputSchema: { name: 'metrics.active_sessions', type: loadType('metrics.active_sessions') },
    tracker: (topic, create) => trackers.get(topic) ?? trackers.set(topic, create()).get(topic)!,
  });
}

function run(
  spec: WindowSpec<Ev, number, object>,
  evs: Ev[],
  steps: Step[],
  from: { restore?: Output[]; firstRecord?: number } = {},
): Output[] {
  const out: Output[] = [];
  const clock = { now: T };
  const op = operator(spec, out, clock);
  for (const o of from.restore ?? [])
    if (o.topic === op.changelog) op.restore(o.partition ?? 0, String(o.key), o.value as Buffer | null);
  for (const s of steps) {
    clock.now = s.now;
    if (s.record !== undefined) {
      if (s.record < (from.firstRecord ?? 0)) continue;
      const env: Envelope<Ev> = {
        value: evs[s.record],
        key: evs[s.record].k,
        ack: tagged(s.record),
        source: {
          topic: 'in',
          partition: 0,
          offset: String(s.record),
          key: null,
          value: null,
          headers: {},
          timestamp: evs[s.record].t,
        },
      };
      op.push(env);
    } else op.tick(s.tick === 'full' ? 'full' : 'state');
  }
  return out;
}

const finals = (outs: Output[]) =>
  outs
    .filter((o) => o.topic === 'metrics.active_sessions' && (o.value as { final: boolean }).final)
    .map((o) => ({ key: String(o.key), count: (o.value as { count: number }).count }));

function checkEveryPrefix(window: WindowKind, seed: string): number {
  const spec = specOf(window);
  const evs = events(seed, 160);
  const steps = schedule(evs.length);
  const full = run(spec, evs, steps);
  const truth = new Map(finals(full).map((f) => [f.key, f.count]));
  assert.ok(truth.size > 5, 'several windows closed');
  // Where each input's last holder was written: the runner may commit it once that is durable.
  const heldUntil = new Map<number, number>();
  full.forEach((o, i) => {
    for (const a of o.acks as TaggedAck[]) heldUntil.set(a.record, Math.max(heldUntil.get(a.record) ?? -1, i));
  });
  let checked = 0;
  for (let k = 0; k <= full.length; k++) {
    const prefix = full.slice(0, k);
    let committed = 0;
    while (committed < evs.length && (heldUntil.get(committed) ?? -1) < k) committed++;
    const after = run(spec, evs, steps, { restore: prefix, firstRecord: committed });
    const seen = new Map<string, Set<number>>();
    for (const f of [...finals(prefix), ...finals(after)]) seen.set(f.key, (seen.get(f.key) ?? new Set()).add(f.count));
    for (const [key, values] of seen) {
      assert.equal(
        values.size,
        1,
        `crash after write ${k} of ${full.length}: window ${key} finalized as ${[...values].join(' and ')}`,
      );
      assert.equal(
        [...values][0],
        truth.get(key),
        `crash after write ${k}: window ${key} final equals the run without a crash`,
      );
    }
    for (const key of truth.keys()) assert.ok(seen.has(key), `crash after write ${k}: window ${key} has its final`);
    checked++;
  }
  return checked;
}

test('tumbling windows: whatever prefix of the writes survives a crash, each window has one final value, the crash-free one', () => {
  assert.ok(checkEveryPrefix(tumbling(10_000), 'crash-tumbling') > 100);
});

test('session windows (merging): whatever prefix survives, each session has one final value and no contribution is lost', () => {
  assert.ok(checkEveryPrefix(session(3_000), 'crash-session') > 100);
});
