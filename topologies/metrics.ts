import type { Observable } from 'rxjs';
import { defineTopology } from '../src/topology/defineTopology.ts';
import type { Envelope, Operators, Output } from '../src/topology/types.ts';
import type { ClickEvent, Order, OrderItem } from '../src/domain/types.generated.ts';
import { count, combine, distinct, distinctCount, sumDistinct } from '../src/windows/aggregations.ts';
import { session, tumbling } from '../src/windows/windowTypes.ts';
import type { WindowSpec } from '../src/windows/windowSpec.ts';

/**
 * The reference real-time metrics. Stage 1 turns silver records and DLQ records into small
 * metric inputs and re-keys them by their group key through a repartition topic (so one key is
 * aggregated in one place whichever runner owns it); stage 2 aggregates them in event-time
 * windows with durable state and writes Avro results to `metrics.<name>`.
 */

export const REPARTITION_TOPIC = 'sluice.metrics.repartition';
export const DLQ_SOURCES = [
  'oltp.customers.dlq',
  'oltp.products.dlq',
  'oltp.orders.dlq',
  'oltp.order_items.dlq',
  'web.clickstream.dlq',
];
export const ALL = '__all__';
const MINUTE = 60_000;

/** One metric input as it travels through the repartition topic (JSON). */
export interface MetricInput {
  metric: 'revenue' | 'orders' | 'funnel' | 'sessions' | 'dlq';
  group: string;
  time: number;
  id?: string;
  amount?: number;
  step?: string;
}

export interface MetricsOptions {
  outOfOrdernessMs?: number;
  graceMs?: number;
  idleTimeoutMs?: number;
  emitEveryMs?: number;
  sessionGapMs?: number;
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Line amount of an order item: quantity × unit price (decimal strings). */
export function lineAmount(item: Pick<OrderItem, 'quantity' | 'unit_price'>): number {
  return item.quantity * Number(item.unit_price);
}

/** Funnel step of a click event (remove_from_cart does not count). */
export function funnelStep(type: string): string | undefined {
  return (
    {
      page_view: 'views',
      product_view: 'product_views',
      add_to_cart: 'carts',
      checkout_started: 'checkouts',
      purchase: 'purchases',
    } as Record<string, string>
  )[type];
}

type Timing = { outOfOrdernessMs: number; graceMs: number; idleTimeoutMs: number; emitEveryMs?: number };
type Sources = Record<string, Observable<Envelope<Buffer | null>>>;

export function metricsTopology(opts: MetricsOptions = {}) {
  const timing: Timing = {
    outOfOrdernessMs: opts.outOfOrdernessMs ?? 10_000,
    graceMs: opts.graceMs ?? 5_000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    emitEveryMs: opts.emitEveryMs,
  };
  const sessionGapMs = opts.sessionGapMs ?? 5 * MINUTE;
  return defineTopology({
    name: 'metrics',
    owner: { team: 'analytics' },
    description: 'Real-time metrics in event-time windows: revenue, orders by status, funnel, sessions, DLQ rates',
    sources: [
      { topic: 'silver.orders' },
      { topic: 'silver.order_items' },
      { topic: 'silver.clickstream' },
      // DLQ and repartition records are never Avro-decoded here; `schema` only names a reader.
      ...DLQ_SOURCES.map((topic) => ({ topic, schema: 'web.clickstream', dlq: `${topic}.metrics-errors` })),
      { topic: REPARTITION_TOPIC, schema: 'web.clickstream', dlq: `${REPARTITION_TOPIC}.errors` },
    ],
    references: {
      products: { topic: 'silver.products', key: 'product_id' },
      orders: { topic: 'silver.orders', key: 'order_id' },
    },
    outputs: [
      { topic: REPARTITION_TOPIC, schema: 'web.clickstream', raw: true },
      { topic: 'metrics.revenue_per_minute', schema: 'metrics.revenue_per_minute' },
      { topic: 'metrics.orders_per_minute', schema: 'metrics.orders_per_minute' },
      { topic: 'metrics.funnel_5m', schema: 'metrics.funnel_5m' },
      { topic: 'metrics.active_sessions', schema: 'metrics.active_sessions' },
      { topic: 'metrics.dlq_per_minute', schema: 'metrics.dlq_per_minute' },
    ],
    pipeline: ({ sources, ops }) =>
      ops.merge(stage1(sources, ops, timing), stage2(sources[REPARTITION_TOPIC], ops, timing, sessionGapMs)),
  });
}

/** Stage 1: silver records and dead letters become metric inputs, re-keyed through the repartition topic. */
function stage1(sources: Sources, ops: Operators, timing: Timing): Observable<Output> {
  const repartition = ops.repartition<MetricInput>(REPARTITION_TOPIC, {
    key: (m) => `${m.metric}|${m.group}`,
    eventTime: (m) => m.time,
    outOfOrdernessMs: timing.outOfOrdernessMs,
  });
  return ops.merge(
    orderInputs(sources, ops).pipe(repartition),
    revenueInputs(sources, ops).pipe(repartition),
    clickInputs(sources, ops).pipe(repartition),
    dlqInputs(sources, ops).pipe(repartition),
  );
}

/**
 * One input record may feed several metric groups: each copy shares the input's ack. A delete
 * (op d, from change data capture) feeds none: removing a row is not an order placed or a sale
 * made in the minute it happened, and the per-minute windows it sold in may be closed long ago.
 */
function orderInputs(sources: Sources, ops: Operators): Observable<Envelope<MetricInput>> {
  return sources['silver.orders'].pipe(
    ops.decode<Order>(),
    ops.flatMapValues(
      (o: Order) =>
        o.op === 'd' ? [] : [{ metric: 'orders', group: o.status, time: o.updated_at, id: String(o.order_id) }],
      'orderMetrics',
    ),
  );
}

function revenueInputs(sources: Sources, ops: Operators): Observable<Envelope<MetricInput>> {
  return sources['silver.order_items'].pipe(
    ops.decode<OrderItem>(),
    ops.enrich(
      'products',
      (i: OrderItem) => String(i.product_id),
      (i: OrderItem, p: { category?: string } | undefined) => ({ ...i, category: p?.category ?? 'unknown' }),
    ),
    ops.enrich(
      'orders',
      (i: OrderItem & { category: string }) => String(i.order_id),
      (i: OrderItem & { category: string }, o: Order | undefined) => ({
        ...i,
        ordered_at: o?.ordered_at ?? i.updated_at,
      }),
    ),
    ops.flatMapValues((i: OrderItem & { category: string; ordered_at: number }) => {
      if (i.op === 'd') return [];
      const base = {
        metric: 'revenue' as const,
        time: i.ordered_at,
        id: String(i.order_item_id),
        amount: lineAmount(i),
      };
      return [
        { ...base, group: i.category },
        { ...base, group: ALL },
      ];
    }, 'revenueMetrics'),
  );
}

function clickInputs(sources: Sources, ops: Operators): Observable<Envelope<MetricInput>> {
  return sources['silver.clickstream'].pipe(
    ops.decode<ClickEvent>(),
    ops.flatMapValues((e: ClickEvent) => {
      const out: MetricInput[] = [
        { metric: 'sessions', group: e.session_id ?? 'unknown', time: e.event_time, id: e.event_id },
      ];
      const step = funnelStep(e.event_type);
      if (step) out.push({ metric: 'funnel', group: ALL, time: e.event_time, id: e.session_id ?? '', step });
      return out;
    }, 'clickMetrics'),
  );
}

function dlqInputs(sources: Sources, ops: Operators): Observable<Envelope<MetricInput>> {
  // DLQ records are not decoded (they are the original, often broken, bytes): their headers say it all.
  return ops.merge(...DLQ_SOURCES.map((t) => sources[t])).pipe(
    ops.mapValue((_bytes: Buffer | null, env: Envelope<Buffer | null>): MetricInput => {
      const h = env.source.headers;
      const reason = h['sluice.error.reason'] ?? 'processing';
      return {
        metric: 'dlq',
        group: `${h['sluice.error.topic'] ?? env.source.topic.replace(/\.dlq$/, '')}|${reason}`,
        time: Number(h['sluice.error.timestamp'] ?? env.source.timestamp),
      };
    }, 'dlqMetricInput'),
  );
}

/** Stage 2: each metric's inputs from the repartition topic, aggregated in its event-time windows. */
function stage2(
  source: Observable<Envelope<Buffer | null>>,
  ops: Operators,
  t: Timing,
  sessionGapMs: number,
): Observable<Output> {
  const inputs = source.pipe(ops.fromJson<MetricInput>(), ops.share());
  const common = {
    key: (m: MetricInput) => m.group,
    eventTime: (m: MetricInput) => m.time,
    inputTopic: REPARTITION_TOPIC,
    ...t,
  };
  return ops.merge(
    ...metricWindows(sessionGapMs).map(({ metric, spec }) =>
      inputs.pipe(
        ops.filterValue((m: MetricInput) => m.metric === metric, metric),
        ops.window({ ...common, ...spec }),
      ),
    ),
  );
}

type MetricWindow = Omit<WindowSpec<MetricInput, any, unknown>, 'key' | 'eventTime'>;

/** The windows of each metric: store, output topic, window, aggregation and result record. */
function metricWindows(sessionGapMs: number): { metric: MetricInput['metric']; spec: MetricWindow }[] {
  return [
    { metric: 'revenue', spec: revenueWindow() },
    { metric: 'orders', spec: ordersWindow() },
    { metric: 'funnel', spec: funnelWindow() },
    { metric: 'sessions', spec: sessionsWindow(sessionGapMs) },
    { metric: 'dlq', spec: dlqWindow() },
  ];
}

function revenueWindow(): MetricWindow {
  return {
    store: 'revenue_per_minute',
    output: 'metrics.revenue_per_minute',
    window: tumbling(MINUTE),
    aggregate: sumDistinct(
      (m: MetricInput) => m.id!,
      (m: MetricInput) => m.amount ?? 0,
    ),
    result: (category, w, acc, m) => ({
      window_start: w.start,
      window_end: w.end,
      category,
      revenue: round2(acc.total),
      final: m.final,
      emitted_at: m.emittedAt,
    }),
  } as MetricWindow;
}

function ordersWindow(): MetricWindow {
  return {
    store: 'orders_per_minute',
    output: 'metrics.orders_per_minute',
    window: tumbling(MINUTE),
    aggregate: distinct((m: MetricInput) => m.id),
    result: (status, w, acc, m) => ({
      window_start: w.start,
      window_end: w.end,
      status,
      count: distinctCount(acc),
      final: m.final,
      emitted_at: m.emittedAt,
    }),
  } as MetricWindow;
}

function funnelWindow(): MetricWindow {
  return {
    store: 'funnel_5m',
    output: 'metrics.funnel_5m',
    window: tumbling(5 * MINUTE),
    aggregate: combine({
      views: distinct((m: MetricInput) => (m.step === 'views' ? m.id : null)),
      product_views: distinct((m: MetricInput) => (m.step === 'product_views' ? m.id : null)),
      carts: distinct((m: MetricInput) => (m.step === 'carts' ? m.id : null)),
      checkouts: distinct((m: MetricInput) => (m.step === 'checkouts' ? m.id : null)),
      purchases: distinct((m: MetricInput) => (m.step === 'purchases' ? m.id : null)),
    }),
    result: (_k, w, acc, m) =>
      funnelResult(
        w,
        {
          views: distinctCount(acc.views),
          product_views: distinctCount(acc.product_views),
          carts: distinctCount(acc.carts),
          checkouts: distinctCount(acc.checkouts),
          purchases: distinctCount(acc.purchases),
        },
        m,
      ),
  } as MetricWindow;
}

function sessionsWindow(sessionGapMs: number): MetricWindow {
  return {
    store: 'active_sessions',
    output: 'metrics.active_sessions',
    window: session(sessionGapMs),
    aggregate: count<MetricInput>(),
    result: (_session, w, n, m) => ({
      window_start: w.start,
      window_end: w.end,
      count: n,
      final: m.final,
      emitted_at: m.emittedAt,
    }),
  } as MetricWindow;
}

function dlqWindow(): MetricWindow {
  return {
    store: 'dlq_per_minute',
    output: 'metrics.dlq_per_minute',
    window: tumbling(MINUTE),
    aggregate: count<MetricInput>(),
    result: (group, w, n, m) => {
      const i = group.lastIndexOf('|');
      const reason = group.slice(i + 1);
      return {
        window_start: w.start,
        window_end: w.end,
        source: group.slice(0, i),
        reason: ['deserialize', 'schema', 'rule', 'processing', 'sink'].includes(reason) ? reason : 'processing',
        count: n,
        final: m.final,
        emitted_at: m.emittedAt,
      };
    },
  } as MetricWindow;
}

export function funnelResult(
  w: { start: number; end: number },
  c: { views: number; product_views: number; carts: number; checkouts: number; purchases: number },
  m: { final: boolean; emittedAt: number },
) {
  return {
    window_start: w.start,
    window_end: w.end,
    ...c,
    view_to_cart: ratio(c.carts, c.views),
    cart_to_checkout: ratio(c.checkouts, c.carts),
    checkout_to_purchase: ratio(c.purchases, c.checkouts),
    view_to_purchase: ratio(c.purchases, c.views),
    final: m.final,
    emitted_at: m.emittedAt,
  };
}

export default metricsTopology();
