import { loadSchema } from '../domain/schemas.ts';
import { ALL, funnelStep, lineAmount, type MetricInput } from '../../topologies/metrics.ts';

/**
 * Offline models of the reference metrics (`topologies/metrics.ts`): what the window results must
 * be, computed plainly from the records, for tests and the chaos harness to compare against.
 *
 * - `offlineFunnel`: the funnel over one upstream partition with the watermark rule written out.
 * - `*MetricInputs` + `offlineFinals`: stage 1 and stage 2 of the metrics topology, offline. Which
 *   records were late is an outcome of arrival order across partitions, so the caller passes the
 *   late records it read from `metrics.late` and they are left out (`withoutLate`).
 *
 * @example
 *   const inputs = clicks.flatMap(clickMetricInputs);
 *   const { kept } = withoutLate(inputs, lateInputs);
 *   const funnel = offlineFinals(kept, { sessionGapMs: 300_000 }).get('funnel_5m');
 */

/**
 * The offline computation the window tests compare against: the same events, in the order the
 * topology reads them (one upstream partition), with the watermark rule written out plainly:
 * wm_i = max over j ≤ i of (t_j − outOfOrderness); a record is late for a window when the
 * window's end + grace ≤ wm_i.
 */
export interface Click {
  event_id: string;
  event_type: string;
  session_id: string;
  event_time: number;
}

export function offlineFunnel(events: Click[], o: { outOfOrdernessMs: number; graceMs: number; sessionGapMs: number }) {
  const size = 5 * 60_000;
  let wm = -Infinity;
  const windows = new Map<number, Record<string, Set<string>>>();
  let funnelLate = 0;
  let sessionsLate = 0;
  for (const e of events) {
    wm = Math.max(wm, e.event_time - o.outOfOrdernessMs);
    if (e.event_time + o.sessionGapMs + o.graceMs <= wm) sessionsLate++;
    const step = funnelStep(e.event_type);
    if (!step) continue;
    const start = Math.floor(e.event_time / size) * size;
    if (start + size + o.graceMs <= wm) {
      funnelLate++;
      continue;
    }
    const w = windows.get(start) ?? {
      views: new Set(),
      product_views: new Set(),
      carts: new Set(),
      checkouts: new Set(),
      purchases: new Set(),
    };
    w[step].add(e.session_id);
    windows.set(start, w);
  }
  const finals = new Map(
    [...windows].map(([start, w]) => [start, Object.fromEntries(Object.entries(w).map(([k, s]) => [k, s.size]))]),
  );
  return { finals, funnelLate, sessionsLate };
}

// ---------------------------------------------------------------------------------------------
// Stage 1 offline: the metric inputs each record becomes (mirrors stage1 in topologies/metrics.ts)

/** The store (and `metrics.<store>` topic) each metric input feeds. */
export const METRIC_STORES: Record<MetricInput['metric'], string> = {
  funnel: 'funnel_5m',
  orders: 'orders_per_minute',
  revenue: 'revenue_per_minute',
  sessions: 'active_sessions',
  dlq: 'dlq_per_minute',
};

export function clickMetricInputs(e: {
  event_id: string;
  event_type: string;
  session_id: string | null;
  event_time: number;
}): MetricInput[] {
  const out: MetricInput[] = [
    { metric: 'sessions', group: e.session_id ?? 'unknown', time: e.event_time, id: e.event_id },
  ];
  const step = funnelStep(e.event_type);
  if (step) out.push({ metric: 'funnel', group: ALL, time: e.event_time, id: e.session_id ?? '', step });
  return out;
}

export function orderMetricInputs(o: { order_id: number; status: string; updated_at: number }): MetricInput[] {
  return [{ metric: 'orders', group: o.status, time: o.updated_at, id: String(o.order_id) }];
}

/** An order item as the topology enriches it: `category` from silver.products, `orderedAt` from silver.orders. */
export function orderItemMetricInputs(
  i: { order_item_id: number; quantity: number; unit_price: string },
  category: string,
  orderedAt: number,
): MetricInput[] {
  const base = { metric: 'revenue' as const, time: orderedAt, id: String(i.order_item_id), amount: lineAmount(i) };
  return [
    { ...base, group: category },
    { ...base, group: ALL },
  ];
}

const reasonOf = (headers: Record<string, string>) => headers['sluice.error.reason'] ?? 'processing';

/** A dead letter of `<source>.dlq`, read from its headers (the value is never decoded). */
export function dlqMetricInput(topic: string, headers: Record<string, string>, timestamp: number): MetricInput {
  return {
    metric: 'dlq',
    group: `${headers['sluice.error.topic'] ?? topic.replace(/\.dlq$/, '')}|${reasonOf(headers)}`,
    time: Number(headers['sluice.error.timestamp'] ?? timestamp),
  };
}

/**
 * Identity of a metric input: equal inputs are interchangeable in every aggregation. Revenue
 * inputs are one order item in one group whatever time the engine's enrichment gave them (the
 * item's own `updated_at` while the order was not yet in its reference table), so a late item is
 * recognised by its id and group alone.
 */
export function metricInputId(m: MetricInput): string {
  if (m.metric === 'revenue') return [m.metric, m.group, m.id ?? ''].join('\u0001');
  return [m.metric, m.group, m.time, m.id ?? '', m.step ?? '', m.amount ?? ''].join('\u0001');
}

/**
 * The inputs without the late ones, as multisets (an input seen twice and late once still
 * counts once). `unmatchedLate` are late records no input accounts for.
 */
export function withoutLate(
  inputs: MetricInput[],
  late: MetricInput[],
): { kept: MetricInput[]; removed: number; unmatchedLate: MetricInput[] } {
  const pending = new Map<string, MetricInput[]>();
  for (const m of late) {
    const id = metricInputId(m);
    const list = pending.get(id);
    if (list) list.push(m);
    else pending.set(id, [m]);
  }
  const kept: MetricInput[] = [];
  let removed = 0;
  for (const m of inputs) {
    const list = pending.get(metricInputId(m));
    if (list?.length) {
      list.pop();
      removed++;
      continue;
    }
    kept.push(m);
  }
  return { kept, removed, unmatchedLate: [...pending.values()].flat() };
}

// ---------------------------------------------------------------------------------------------
// Stage 2 offline: the final result of every window

/** One window's final result: the fields of its `metrics.<store>` record but `final` and `emitted_at`. */
export interface OracleWindow {
  store: string;
  /** The record key the topology writes: `<window start>|<group>`. */
  key: string;
  group: string;
  start: number;
  end: number;
  value: Record<string, number | string>;
  /** Inputs that fed the window, and how many distinct ids they carry (sessions: event ids). */
  inputs: number;
  distinctIds: number;
}

const MINUTE = 60_000;
/** The reasons `metrics.dlq_per_minute` can carry (its enum); any other reason is reported as `processing`. */
const DLQ_REASONS: readonly string[] = (() => {
  const fields = (loadSchema('metrics.dlq_per_minute') as { fields: { name: string; type: { symbols?: string[] } }[] })
    .fields;
  return fields.find((f) => f.name === 'reason')?.type.symbols ?? [];
})();
const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * Every window's final value over `inputs` (late ones already removed), per store, by record key.
 * Tumbling windows: 1 min (orders, revenue, dlq), 5 min (funnel). Sessions: events of one group
 * whose times are at most `sessionGapMs` apart chain into one session [first, last + gap).
 */
export function offlineFinals(
  inputs: MetricInput[],
  opts: { sessionGapMs: number },
): Map<string, Map<string, OracleWindow>> {
  const out = new Map<string, Map<string, OracleWindow>>(Object.values(METRIC_STORES).map((s) => [s, new Map()]));
  const tumbling = new Map<
    string,
    { store: string; group: string; start: number; end: number; inputs: MetricInput[] }
  >();
  const sessions = new Map<string, MetricInput[]>();
  for (const m of inputs) {
    if (m.metric === 'sessions') {
      const list = sessions.get(m.group);
      if (list) list.push(m);
      else sessions.set(m.group, [m]);
      continue;
    }
    const size = m.metric === 'funnel' ? 5 * MINUTE : MINUTE;
    const start = Math.floor(m.time / size) * size;
    const store = METRIC_STORES[m.metric];
    const k = `${store}\u0000${start}|${m.group}`;
    let w = tumbling.get(k);
    if (!w) {
      w = { store, group: m.group, start, end: start + size, inputs: [] };
      tumbling.set(k, w);
    }
    w.inputs.push(m);
  }
  for (const w of tumbling.values()) {
    const key = `${w.start}|${w.group}`;
    out.get(w.store)!.set(key, {
      store: w.store,
      key,
      group: w.group,
      start: w.start,
      end: w.end,
      value: tumblingValue(w.store, w.group, w.inputs),
      inputs: w.inputs.length,
      distinctIds: new Set(w.inputs.map((m) => m.id)).size,
    });
  }
  for (const [group, events] of sessions) {
    events.sort((a, b) => a.time - b.time);
    let from = 0;
    for (let i = 0; i < events.length; i++) {
      if (i === events.length - 1 || events[i + 1].time - events[i].time > opts.sessionGapMs) {
        const part = events.slice(from, i + 1);
        const key = `${part[0].time}|${group}`;
        out.get('active_sessions')!.set(key, {
          store: 'active_sessions',
          key,
          group,
          start: part[0].time,
          end: events[i].time + opts.sessionGapMs,
          value: { count: part.length },
          inputs: part.length,
          distinctIds: new Set(part.map((m) => m.id)).size,
        });
        from = i + 1;
      }
    }
  }
  return out;
}

function tumblingValue(store: string, group: string, inputs: MetricInput[]): Record<string, number | string> {
  switch (store) {
    case 'funnel_5m': {
      const steps: Record<string, Set<string>> = {
        views: new Set(),
        product_views: new Set(),
        carts: new Set(),
        checkouts: new Set(),
        purchases: new Set(),
      };
      for (const m of inputs) if (m.step && m.id !== undefined) steps[m.step]?.add(m.id);
      return Object.fromEntries(Object.entries(steps).map(([k, s]) => [k, s.size]));
    }
    case 'orders_per_minute':
      return { status: group, count: new Set(inputs.map((m) => m.id)).size };
    case 'revenue_per_minute': {
      // sumDistinct: the first amount seen per id; amounts of one id never differ here (items do not change).
      const seen = new Map<string, number>();
      for (const m of inputs) if (!seen.has(m.id!)) seen.set(m.id!, m.amount ?? 0);
      return { category: group, revenue: round2([...seen.values()].reduce((a, b) => a + b, 0)) };
    }
    case 'dlq_per_minute': {
      const i = group.lastIndexOf('|');
      const reason = group.slice(i + 1);
      return {
        source: group.slice(0, i),
        reason: DLQ_REASONS.includes(reason) ? reason : 'processing',
        count: inputs.length,
      };
    }
    default:
      throw new Error(`no offline model for store ${store}`);
  }
}
