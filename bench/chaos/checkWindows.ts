import type { AvroSerde } from '../../src/serde/avroSerde.ts';
import {
  clickMetricInputs,
  dlqMetricInput,
  METRIC_STORES,
  offlineFinals,
  orderItemMetricInputs,
  orderMetricInputs,
  withoutLate,
  type OracleWindow,
} from '../../src/testing/offlineMetrics.ts';
import { DLQ_SOURCES, type MetricInput } from '../../topologies/metrics.ts';
import { LATE_TOPIC, METRIC_TOPICS, type Snapshot } from './collect.ts';
import { SENTINEL_SESSION } from './drain.ts';
import { check, type Check } from './report.ts';

/**
 * Section 3: window finals. (a) Every (metric, window start, key) has one final value, however
 * often it was emitted. (b) The finals equal an offline computation from what silver and the
 * DLQs hold (`src/testing/offlineMetrics.ts`), leaving out the inputs the engine sent to
 * metrics.late: which records come late depends on the order records arrived across partitions,
 * restarts and rebalances, and the late topic says which ones did.
 */

/** The metrics topology's timing (topologies/metrics.ts defaults, which `sluice run` uses). */
const TIMING = { outOfOrdernessMs: 10_000, graceMs: 5_000, sessionGapMs: 5 * 60_000 };
const FUNNEL_MS = 5 * 60_000;
/**
 * Stores whose oracle is exact; revenue is reported (see its note). Sessions: the oracle chains
 * non-late events at most the gap apart, the engine would open a new session for an event that
 * joins a session it already closed without being late; with this generator that cannot happen
 * (a session's events span seconds, its late events fall minutes before them).
 */
const EXACT = new Set(['funnel_5m', 'orders_per_minute', 'dlq_per_minute', 'active_sessions']);
const NOTES: Record<string, string> = {
  revenue_per_minute:
    'oracle enriches items with silver.products / silver.orders as they end up; the engine enriches with its reference tables at the time (a lagging table gives category "unknown" or the item\'s own time)',
  active_sessions:
    'engine counts differ from the silver events of the session that were not late (samples in chaos.json)',
};

interface Final {
  key: string;
  value: Record<string, unknown>;
}

/** Why a store's finals differ, as far as the data says. */
function noteFor(
  store: string,
  differing: { engine: Record<string, unknown>; inputs: number; distinctIds: number }[],
): string | undefined {
  // Sessions count events: silver's duplicate rows (at_least_once) are events to the oracle.
  if (
    store === 'active_sessions' &&
    differing.length &&
    differing.every((d) => d.inputs > d.distinctIds && d.engine.count === d.distinctIds)
  ) {
    return (
      'in every differing session the engine counted each event id once while silver holds some event twice ' +
      '(duplicate silver rows, section 2)'
    );
  }
  return NOTES[store];
}

const comparable = (v: Record<string, unknown>) => {
  const { final: _f, emitted_at: _e, ...rest } = v;
  return rest;
};

function sameValue(store: string, engine: Record<string, unknown>, oracle: OracleWindow): boolean {
  for (const [k, want] of Object.entries(oracle.value)) {
    const got = engine[k];
    if (typeof want === 'number') {
      const tol = store === 'revenue_per_minute' ? 0.011 : 0;
      if (typeof got !== 'number' || Math.abs(got - want) > tol) return false;
    } else if (got !== want) return false;
  }
  return engine.window_end === oracle.end;
}

export function checkWindows(
  snap: Snapshot,
  serde: AvroSerde,
  sentinelTime: number,
): { checks: Check[]; facts: Record<string, unknown> } {
  const recs = snap.read.records;
  // Engine finals per store.
  const finals = new Map<string, Map<string, Final[]>>();
  let provisional = 0;
  for (const topic of METRIC_TOPICS) {
    const store = topic.slice('metrics.'.length);
    const byKey = new Map<string, Final[]>();
    for (const r of recs.get(topic)!) {
      const v = serde.decodeSync(r.value).value as Record<string, unknown>;
      if (!v.final) {
        provisional++;
        continue;
      }
      const list = byKey.get(r.key ?? '');
      const f = { key: r.key ?? '', value: comparable(v) };
      if (list) list.push(f);
      else byKey.set(r.key ?? '', [f]);
    }
    finals.set(store, byKey);
  }
  const conflicting: { store: string; key: string; values: unknown[] }[] = [];
  let reemitted = 0;
  for (const [store, byKey] of finals) {
    for (const [key, list] of byKey) {
      const distinct = new Map(list.map((f) => [JSON.stringify(f.value), f.value]));
      if (distinct.size > 1) conflicting.push({ store, key, values: [...distinct.values()] });
      reemitted += list.length - 1;
    }
  }

  // The oracle's inputs: silver and the DLQs, as stage 1 turns them into metric inputs.
  const decode = <T>(topic: string) => recs.get(topic)!.map((r) => serde.decodeSync(r.value).value as T);
  const clicks = decode<{ event_id: string; event_type: string; session_id: string | null; event_time: number }>(
    'silver.clickstream',
  ).filter((e) => e.session_id !== SENTINEL_SESSION);
  const orders = decode<{ order_id: number; status: string; updated_at: number; ordered_at: number }>('silver.orders');
  const items = decode<{
    order_item_id: number;
    order_id: number;
    product_id: number;
    quantity: number;
    unit_price: string;
    updated_at: number;
  }>('silver.order_items');
  const category = new Map(
    decode<{ product_id: number; category: string }>('silver.products').map((p) => [p.product_id, p.category]),
  );
  const orderedAt = new Map(orders.map((o) => [o.order_id, o.ordered_at]));
  const inputs: MetricInput[] = [
    ...clicks.flatMap(clickMetricInputs),
    ...orders.flatMap(orderMetricInputs),
    ...items.flatMap((i) =>
      orderItemMetricInputs(i, category.get(i.product_id) ?? 'unknown', orderedAt.get(i.order_id) ?? i.updated_at),
    ),
    ...DLQ_SOURCES.flatMap((t) => recs.get(t)!.map((r) => dlqMetricInput(t, r.headers, r.timestamp))),
  ];
  const lateRecords = recs.get(LATE_TOPIC)!;
  const late: MetricInput[] = [];
  const lateByStore: Record<string, number> = {};
  for (const r of lateRecords) {
    const store = r.headers['sluice.late.store'] ?? '?';
    lateByStore[store] = (lateByStore[store] ?? 0) + 1;
    try {
      late.push(JSON.parse(r.value!.toString('utf8')) as MetricInput);
    } catch {
      /* not a metric input: counted as unmatched below */
    }
  }
  const { kept, removed, unmatchedLate } = withoutLate(inputs, late);
  const oracle = offlineFinals(kept, { sessionGapMs: TIMING.sessionGapMs });

  // Closed for sure once event time passed the sentinel minus the out-of-orderness.
  const wmEnd = sentinelTime - TIMING.outOfOrdernessMs;
  const sentinelFunnel = Math.floor(sentinelTime / FUNNEL_MS) * FUNNEL_MS;
  const checks: Check[] = [];
  const perStore: Record<string, unknown> = {};
  let stillOpen = 0;
  for (const store of Object.values(METRIC_STORES)) {
    const want = oracle.get(store)!;
    const got = finals.get(store) ?? new Map<string, Final[]>();
    let match = 0;
    const missing: string[] = [];
    const differing: {
      key: string;
      engine: Record<string, unknown>;
      oracle: unknown;
      inputs: number;
      distinctIds: number;
    }[] = [];
    for (const [key, w] of want) {
      if (w.end + TIMING.graceMs > wmEnd) {
        stillOpen++;
        continue;
      }
      const list = got.get(key);
      if (!list) {
        missing.push(key);
        continue;
      }
      if (list.every((f) => sameValue(store, f.value, w))) match++;
      else
        differing.push({ key, engine: list[0].value, oracle: w.value, inputs: w.inputs, distinctIds: w.distinctIds });
    }
    const unexpected = [...got.keys()].filter(
      (k) =>
        !want.has(k) &&
        !(store === 'active_sessions' && k.endsWith(`|${SENTINEL_SESSION}`)) &&
        !(store === 'funnel_5m' && k.startsWith(`${sentinelFunnel}|`)),
    );
    const closed = match + missing.length + differing.length;
    const ok = missing.length === 0 && differing.length === 0 && unexpected.length === 0;
    perStore[store] = {
      oracleWindows: want.size,
      closed,
      match,
      missing: missing.length,
      differing: differing.length,
      unexpected: unexpected.length,
      samples: { missing: missing.slice(0, 3), differing: differing.slice(0, 3), unexpected: unexpected.slice(0, 3) },
    };
    checks.push(
      check({
        section: 3,
        id: `win.oracle.${store}`,
        name: `${store}: finals = offline oracle (late inputs left out)`,
        expected: `${closed} windows equal`,
        actual: ok
          ? `${match}/${closed} equal`
          : `${match}/${closed} equal, ${missing.length} missing, ` +
            `${differing.length} differ, ${unexpected.length} unexpected`,
        pass: ok,
        required: EXACT.has(store),
        note: ok ? undefined : noteFor(store, differing),
      }),
    );
  }
  const byStoreConflicts = Object.entries(Object.groupBy(conflicting, (c) => c.store))
    .map(([s, l]) => `${s} ${l!.length}`)
    .join(', ');
  checks.unshift(
    check({
      section: 3,
      id: 'win.finals',
      name: 'window finals with more than one value (metric, window, key)',
      expected: '0',
      actual: conflicting.length ? `${conflicting.length} (${byStoreConflicts})` : '0',
      pass: conflicting.length === 0,
      note:
        `${[...finals.values()].reduce((n, m) => n + m.size, 0)} finals, ` +
        `${reemitted} re-emitted with the same value`,
    }),
  );
  checks.push(
    check({
      section: 3,
      id: 'win.late',
      name: 'records in metrics.late (left out of the oracle)',
      expected: '-',
      actual: `${lateRecords.length} (${
        Object.entries(lateByStore)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ') || 'none'
      })${unmatchedLate.length ? `, ${unmatchedLate.length} match no silver/DLQ input` : ''}`,
      pass: null,
    }),
  );
  return {
    checks,
    facts: {
      provisional,
      finals: [...finals].map(([s, m]) => [s, m.size]),
      reemitted,
      conflicting: conflicting.slice(0, 10),
      conflictingCount: conflicting.length,
      inputs: inputs.length,
      lateRemoved: removed,
      unmatchedLate: unmatchedLate.length,
      lateByStore,
      oracleStillOpen: stillOpen,
      perStore,
      sentinelTime,
    },
  };
}
