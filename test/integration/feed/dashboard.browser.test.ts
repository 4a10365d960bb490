import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import client from 'prom-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Config } from '../../../src/config/config.ts';
import type { ClickEvent } from '../../../src/domain/types.generated.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { createTestDriver, type DriverRecord, type TestDriver } from '../../../src/testing/testDriver.ts';
import { metricsTopology } from '../../../topologies/metrics.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { createMetricTopic, type MetricTopic } from './feedTestKit.ts';

/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core; no
 * browser download) against a feed on the real stack: the page connects, shows the snapshot, and
 * its numbers change as new metric records are produced. The active sessions (KPI, open sessions,
 * chart values and time axis) and every chart's time axis are checked against what is computed
 * from the feed messages the page's WebSocket received, which must agree with the topic's records.
 * A screenshot is saved for a human look.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const MINUTE = 60_000;
const CATEGORIES = ['books', 'electronics', 'home', 'sports', 'toys'];
const STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];

/** Small deterministic pseudo-random numbers, so the screenshot looks the same every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function revenueWindow(start: number, rnd: () => number, final: boolean, boost = 0) {
  const rows = CATEGORIES.map((category, i) => ({
    window_start: start,
    window_end: start + MINUTE,
    category,
    revenue: Math.round((300 + i * 180 + 250 * Math.sin(start / 400_000 + i) + rnd() * 200 + boost) * 100) / 100,
    final,
    emitted_at: Date.now(),
  }));
  const total = rows.reduce((n, r) => n + r.revenue, 0);
  return [
    ...rows,
    {
      window_start: start,
      window_end: start + MINUTE,
      category: '__all__',
      revenue: Math.round(total * 100) / 100,
      final,
      emitted_at: Date.now(),
    },
  ];
}

/** Waits until the element with this test id shows text that passes `check`; returns the text. */
function waitForText(page: Page, testId: string, check: (text: string) => boolean, what: string): Promise<string> {
  return eventually(
    async () => {
      const text = await page.getByTestId(testId).textContent();
      return text !== null && check(text) ? text : undefined;
    },
    what,
    30_000,
  );
}

/*
 * Active sessions, as the metrics topology really writes them: one session window per session id
 * (key `<window_start>|<session_id>`, value.count = the session's events), provisional results
 * while it is open, one final when it closes, and stale provisional results of sessions merged
 * into an earlier one. The records come from the real topology (in memory) run on clicks.
 */

const SESSION_GAP = 5 * MINUTE;
const SESSION_TIMING = { outOfOrdernessMs: 10_000, graceMs: 5_000, idleTimeoutMs: 3_600_000, emitEveryMs: 0 };
const FUNNEL_TYPES = ['page_view', 'product_view', 'add_to_cart', 'checkout_started', 'purchase'] as const;

function clickEvent(id: string, session: string, type: string, time: number): ClickEvent {
  return {
    event_id: id,
    event_type: type,
    session_id: session,
    customer_id: null,
    event_time: time,
    page_url: '/p/1',
    product_id: 1,
    quantity: null,
    price: '12.50',
    order_id: null,
    user_agent: 'it-dashboard',
  } as ClickEvent;
}

/**
 * Clicks of `sessions` sessions starting in [from, to), in arrival order: each session's events
 * closer than the session gap; some session ids come back after a pause longer than the gap (a
 * second session); and three sessions get an out-of-order click that bridges two of their
 * sessions, which the windows merge (the later session's results become stale).
 */
function sessionClicks(from: number, to: number, sessions: number, rnd: () => number, tag: string): ClickEvent[] {
  const events: ClickEvent[] = [];
  const bridges: { after: string; click: ClickEvent }[] = [];
  for (let i = 0; i < sessions; i++) {
    const session = `${tag}s${i}`;
    let t = from + Math.floor(rnd() * (to - from));
    const n = 1 + Math.floor(rnd() * 6);
    for (let j = 0; j < n && t < to; j++) {
      events.push(clickEvent(`${session}e${j}`, session, FUNNEL_TYPES[Math.min(j, 4)], t));
      t += 1_000 + Math.floor(rnd() * 150_000);
    }
    if (i % 10 === 3 && t + SESSION_GAP < to) {
      events.push(clickEvent(`${session}again`, session, 'page_view', t + SESSION_GAP));
    }
  }
  for (let i = 0; i < 3; i++) {
    const session = `${tag}merged${i}`;
    const a = from + Math.floor(((i + 1) / 5) * (to - from - 2 * SESSION_GAP));
    events.push(clickEvent(`${session}a`, session, 'page_view', a));
    events.push(clickEvent(`${session}b`, session, 'product_view', a + SESSION_GAP + 1_000));
    bridges.push({
      after: `${session}b`,
      click: clickEvent(`${session}x`, session, 'add_to_cart', a + SESSION_GAP - 1_000),
    });
  }
  events.sort((x, y) => x.event_time - y.event_time);
  for (const b of bridges) events.splice(events.findIndex((e) => e.event_id === b.after) + 1, 0, b.click);
  return events;
}

/** Feeds clicks to the metrics topology; returns the new records of `topic` since `seen`. */
function runClicks(d: TestDriver, clicks: ClickEvent[], topic: string, seen: number): DriverRecord[] {
  for (const c of clicks) d.pipeInput('silver.clickstream', c, { key: c.session_id });
  return d.readOutput(topic).slice(seen);
}

/** Produces records with the keys the topology gave them (the kit's `produce` keys by string fields). */
async function produceKeyed(cfg: Config, mt: MetricTopic, schema: string, records: DriverRecord[]): Promise<void> {
  const registry = createRegistryClient(cfg);
  const id = await registry.register(`${mt.topic}-value`, loadSchema(schema));
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const producer = mt.kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      const chunk = records.slice(i, i + 500);
      await producer.send({
        topic: mt.topic,
        acks: -1,
        messages: await Promise.all(chunk.map(async (r) => ({ key: r.key, value: await serde.encode(id, r.value) }))),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

interface SessionResult {
  key: string;
  window: { start: number; end: number };
  final: boolean;
}

/** What the sessions panel must show, computed from session results (feed updates or topic records). */
interface ExpectedSessions {
  /** Minute starts of the chart (ms), the last one holding the latest event time. */
  minutes: number[];
  /** Sessions whose window overlaps each minute. */
  active: number[];
  /** Sessions not closed yet (latest result provisional). */
  open: number;
  /** Stale results of sessions merged into an earlier one (left out). */
  merged: number;
}

/**
 * The latest result per key; per session id, overlapping windows are one session (a merge keeps
 * the earliest start); the latest event time is the largest window end minus the session gap (the
 * smallest window length seen); the chart covers the last hour of minutes up to it.
 */
function expectedSessions(results: SessionResult[]): ExpectedSessions {
  const latestByKey = new Map<string, SessionResult>();
  let gap = Number.POSITIVE_INFINITY;
  let maxEnd = Number.NEGATIVE_INFINITY;
  for (const r of results) {
    latestByKey.set(r.key, r);
    gap = Math.min(gap, r.window.end - r.window.start);
    maxEnd = Math.max(maxEnd, r.window.end);
  }
  const byId = new Map<string, SessionResult[]>();
  for (const r of latestByKey.values()) {
    const id = r.key.slice(r.key.indexOf('|') + 1);
    byId.set(id, [...(byId.get(id) ?? []), r]);
  }
  const sessions: SessionResult[] = [];
  for (const list of byId.values()) {
    list.sort((a, b) => a.window.start - b.window.start);
    let reach = Number.NEGATIVE_INFINITY;
    for (const r of list) {
      if (r.window.start >= reach) sessions.push(r);
      reach = Math.max(reach, r.window.end);
    }
  }
  const last = Math.floor((maxEnd - gap) / MINUTE) * MINUTE;
  const horizon = last - 59 * MINUTE;
  const kept = sessions.filter((s) => s.window.end > horizon);
  const earliest = Math.min(...kept.map((s) => s.window.start));
  const minutes: number[] = [];
  for (let m = Math.max(horizon, Math.floor(earliest / MINUTE) * MINUTE); m <= last; m += MINUTE) minutes.push(m);
  return {
    minutes,
    active: minutes.map((m) => kept.filter((s) => s.window.start < m + MINUTE && s.window.end > m).length),
    open: kept.filter((s) => !s.final).length,
    merged: latestByKey.size - sessions.length,
  };
}

/** Session results of driver records, as the feed would serve them. */
function asResults(records: DriverRecord[]): SessionResult[] {
  return records.map((r) => {
    const v = r.value as { window_start: number; window_end: number; final: boolean };
    return { key: r.key!, window: { start: Number(v.window_start), end: Number(v.window_end) }, final: v.final };
  });
}

/*
 * The page, watched from outside: every feed message its WebSocket received, and every uPlot
 * chart it built (the constructor is wrapped before uPlot's script runs), so a test reads the
 * data and x scale a chart really draws.
 */

interface FeedMessage {
  type: string;
  metric?: string;
  key?: string;
  window?: { start: number; end: number };
  value?: Record<string, unknown>;
  final?: boolean;
  snapshot?: boolean;
}

const RECORD_PLOTS = `(() => {
  const plots = {};
  let real;
  Object.defineProperty(window, '__plots', { value: plots });
  Object.defineProperty(window, 'uPlot', {
    configurable: true,
    get: () => real,
    set: (U) => {
      real = new Proxy(U, {
        construct(target, args) {
          const plot = Reflect.construct(target, args);
          plots[args[2].id] = plot;
          return plot;
        },
      });
    },
  });
})();`;

interface DrawnChart {
  xs: number[];
  ys: (number | null)[];
  xMin: number;
  xMax: number;
}

/** The data (x in seconds, first series) and x scale of the chart in element `id`. */
function drawnChart(page: Page, id: string): Promise<DrawnChart | null> {
  return page.evaluate(`(() => {
    const p = window.__plots[${JSON.stringify(id)}];
    if (!p || !document.getElementById(${JSON.stringify(id)}).contains(p.root)) return null;
    return { xs: Array.from(p.data[0]), ys: Array.from(p.data[1]), xMin: p.scales.x.min, xMax: p.scales.x.max };
  })()`);
}

function feedMessages(page: Page): FeedMessage[] {
  const messages: FeedMessage[] = [];
  page.on('websocket', (ws) =>
    ws.on('framereceived', (f) => {
      if (typeof f.payload === 'string') messages.push(JSON.parse(f.payload) as FeedMessage);
    }),
  );
  return messages;
}

function updatesOf(messages: FeedMessage[], metric: string): SessionResult[] {
  return messages
    .filter((m) => m.type === 'update' && m.metric === metric)
    .map((m) => ({ key: m.key!, window: m.window!, final: m.final === true }));
}

/** What the sessions panel shows: the KPI, the open sessions of its note, the chart's x axis and values. */
async function sessionsShown(page: Page) {
  const note = (await page.locator('#sessions-note').textContent()) ?? '';
  const chart = await drawnChart(page, 'chart-sessions');
  return {
    activeSessions: await page.getByTestId('sessions-current').textContent(),
    stillOpen: / ([\d,]+) still open$/.exec(note)?.[1] ?? `(note: ${note})`,
    axisFrom: chart ? new Date(chart.xMin * 1000).toISOString() : null,
    axisTo: chart ? new Date(chart.xMax * 1000).toISOString() : null,
    axisSpanSeconds: chart ? chart.xMax - chart.xMin : null,
    minutes: chart?.xs.map((x) => new Date(x * 1000).toISOString()) ?? null,
    activePerMinute: chart?.ys ?? null,
  };
}

/**
 * Waits until the page shows `want` (the KPI: sessions active in the latest minute; the open
 * sessions in its note; the chart: one point per minute, its x axis from the first minute to the
 * minute of the latest event), then asserts it, every number at once.
 */
async function assertSessionsShown(page: Page, want: ExpectedSessions, what: string): Promise<void> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const expected = {
    activeSessions: want.active.at(-1)!.toLocaleString('en-US'),
    stillOpen: want.open.toLocaleString('en-US'),
    axisFrom: iso(want.minutes[0]),
    axisTo: iso(want.minutes.at(-1)!),
    axisSpanSeconds: (want.minutes.at(-1)! - want.minutes[0]) / 1000,
    minutes: want.minutes.map(iso),
    activePerMinute: want.active,
  };
  const shown = await eventually(
    async () => {
      const s = await sessionsShown(page);
      return isDeepStrictEqual(s, expected) ? s : undefined;
    },
    `${what}: the sessions panel to show the feed's numbers`,
    20_000,
  ).catch(() => sessionsShown(page));
  assert.deepEqual(shown, expected, `${what}: the sessions panel shows what the feed sent`);
}

test('the dashboard connects, shows live metrics, and its numbers change as metric records flow', async (t) => {
  const cfg = await realStack();
  const prefix = `${uniqueName('it_dash')}_`;
  const topics: Record<string, MetricTopic> = {};
  for (const name of ['revenue_per_minute', 'orders_per_minute', 'funnel_5m', 'active_sessions', 'dlq_per_minute']) {
    topics[name] = await createMetricTopic(cfg, { metric: `${prefix}${name}`, schema: `metrics.${name}` });
  }
  const rnd = prng(42);
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const minutes = Array.from({ length: 30 }, (_, i) => now - (29 - i) * MINUTE);
  await topics.revenue_per_minute.produce(minutes.flatMap((m) => revenueWindow(m, rnd, m !== now)));
  await topics.orders_per_minute.produce(
    minutes.flatMap((m) => {
      const counts = STATUSES.map((_, i) => Math.round((40 - i * 7) * (0.8 + rnd() * 0.4)));
      return [
        ...STATUSES.map((status, i) => ({
          window_start: m,
          window_end: m + MINUTE,
          status,
          count: counts[i],
          final: m !== now,
          emitted_at: Date.now(),
        })),
        {
          window_start: m,
          window_end: m + MINUTE,
          status: '__all__',
          count: counts.reduce((a, b) => a + b, 0),
          final: m !== now,
          emitted_at: Date.now(),
        },
      ];
    }),
  );
  // Sessions and the funnel come from the real metrics topology run on clicks of the last 30 minutes.
  const driver = await createTestDriver(metricsTopology(SESSION_TIMING), { now: now - 30 * MINUTE });
  const firstSessions = runClicks(
    driver,
    sessionClicks(now - 30 * MINUTE, now - 5 * MINUTE, 400, prng(7), 'a'),
    'metrics.active_sessions',
    0,
  );
  await produceKeyed(cfg, topics.active_sessions, 'metrics.active_sessions', firstSessions);
  const funnels = driver.readOutput('metrics.funnel_5m').length;
  await produceKeyed(cfg, topics.funnel_5m, 'metrics.funnel_5m', driver.readOutput('metrics.funnel_5m'));
  await topics.dlq_per_minute.produce(
    minutes.flatMap((m) =>
      [
        { source: 'oltp.orders', reason: 'rule' },
        { source: 'oltp.orders', reason: 'schema' },
        { source: 'web.clickstream', reason: 'deserialize' },
        { source: 'web.clickstream', reason: 'rule' },
      ].map((g, i) => ({
        window_start: m,
        window_end: m + MINUTE,
        ...g,
        count: Math.round(rnd() * (8 - i * 2)),
        final: m !== now,
        emitted_at: Date.now(),
      })),
    ),
  );

  // What a runner in the same process would report: the page reads these from /metrics.
  const registry = new client.Registry();
  new client.Counter({
    name: 'sluice_records_late_total',
    help: 'late',
    labelNames: ['topology', 'store'],
    registers: [registry],
  }).inc({ topology: 'metrics', store: 'revenue_per_minute' }, 7);
  const lag = new client.Gauge({
    name: 'sluice_consumer_lag_records',
    help: 'lag',
    labelNames: ['topology', 'topic', 'partition'],
    registers: [registry],
  });
  for (let p = 0; p < 3; p++)
    lag.set({ topology: 'metrics', topic: 'silver.order_items', partition: String(p) }, 10 + p * 6);

  const srv = await startFeedServer(cfg, {
    host: '127.0.0.1',
    port: 0,
    feed: { registry, topicRefreshMs: 500 },
    dashboard: { metricsPollMs: 1_000 },
  });
  let browser: Browser | undefined;
  try {
    await srv.feed.ready;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1200 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    const messages = feedMessages(page);
    await page.addInitScript(RECORD_PLOTS);
    await page.goto(`${srv.url}/?metricPrefix=${encodeURIComponent(prefix)}`);

    const status = page.getByTestId('connection-status');
    await page
      .waitForSelector('[data-testid="connection-status"][data-state="live"]', { timeout: 30_000 })
      .catch(async (err: Error) => {
        const why = [`status "${await status.textContent()}"`, ...problems].join('; ');
        throw new Error(`the page did not go live (${why}): ${err.message}`);
      });
    assert.equal(await status.textContent(), 'live');

    const first = await waitForText(
      page,
      'revenue-text',
      (s) => /revenue this minute: \d/.test(s),
      'the snapshot revenue',
    );
    assert.match(first, /^revenue this minute: \d+\.\d\d /);

    // New provisional results for the current minute: the displayed revenue follows them.
    let expected = first;
    for (const boost of [150, 400]) {
      const rows = revenueWindow(now, prng(boost), false, boost);
      await topics.revenue_per_minute.produce(rows);
      const total = rows.at(-1)!.revenue.toFixed(2);
      const shown = await waitForText(
        page,
        'revenue-text',
        (s) => s.startsWith(`revenue this minute: ${total} `),
        `revenue ${total} on the page`,
      );
      assert.notEqual(shown, expected, 'the revenue text changed');
      expected = shown;
      assert.equal(
        await page.getByTestId('revenue-current').textContent(),
        Number(total).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }),
      );
    }

    assert.ok(
      Number((await page.getByTestId('updates-count').textContent())!.replace(/,/g, '')) > 100,
      'updates counted',
    );
    assert.notEqual(await page.getByTestId('orders-current').textContent(), '—');
    assert.notEqual(await page.getByTestId('sessions-current').textContent(), '—');
    assert.match((await page.getByTestId('conversion-current').textContent())!, /^\d+\.\d %$/);
    assert.equal(await page.locator('#funnel .step').count(), 5);
    assert.ok((await page.locator('#dlq-table tbody tr').count()) >= 3, 'DLQ rows by source and reason');
    await waitForText(page, 'late-total', (s) => s === '7', 'late records read from /metrics');
    assert.equal(await page.getByTestId('lag-total').textContent(), '48');
    for (const id of ['chart-revenue', 'chart-orders', 'chart-sessions', 'chart-funnel', 'chart-dlq']) {
      assert.equal(await page.locator(`#${id} canvas`).count(), 1, `${id} has a chart`);
    }

    // Active sessions: what the page shows = what the feed sent it = what the topic holds.
    const sessionsMetric = `${prefix}active_sessions`;
    const fromTopic = expectedSessions(asResults(firstSessions));
    await eventually(
      async () => isDeepStrictEqual(expectedSessions(updatesOf(messages, sessionsMetric)), fromTopic),
      'the page to receive every session result of the topic',
    );
    assert.ok(fromTopic.minutes.length >= 20, 'the sessions chart spans the session windows of 20+ minutes');
    assert.ok(fromTopic.merged >= 3, 'the topic holds stale results of merged sessions');
    await assertSessionsShown(page, fromTopic, 'snapshot');

    // Five more minutes of clicks: new sessions, and the open ones of before close.
    const moreSessions = runClicks(
      driver,
      sessionClicks(now - 5 * MINUTE, now, 120, prng(8), 'b'),
      'metrics.active_sessions',
      firstSessions.length,
    );
    const moreFunnels = driver.readOutput('metrics.funnel_5m').slice(funnels);
    await produceKeyed(cfg, topics.funnel_5m, 'metrics.funnel_5m', moreFunnels);
    await produceKeyed(cfg, topics.active_sessions, 'metrics.active_sessions', moreSessions);
    const later = expectedSessions(asResults([...firstSessions, ...moreSessions]));
    assert.notDeepEqual(later, fromTopic, 'the new clicks change the sessions panel');
    await eventually(
      async () => isDeepStrictEqual(expectedSessions(updatesOf(messages, sessionsMetric)), later),
      'the page to receive the new session results',
    );
    await assertSessionsShown(page, later, 'live');

    // The other charts plot one point per window start the feed sent (x in seconds), axis from the first to the last.
    for (const [id, metric] of [
      ['chart-revenue', 'revenue_per_minute'],
      ['chart-orders', 'orders_per_minute'],
      ['chart-funnel', 'funnel_5m'],
      ['chart-dlq', 'dlq_per_minute'],
    ]) {
      const axis = async () => {
        const starts = updatesOf(messages, `${prefix}${metric}`).map((u) => u.window.start / 1000);
        const xs = [...new Set(starts)].sort((a, b) => a - b);
        const chart = await drawnChart(page, id);
        return {
          expected: { xs, xMin: xs[0], xMax: xs.at(-1) },
          shown: chart && { xs: chart.xs, xMin: chart.xMin, xMax: chart.xMax },
        };
      };
      const { expected, shown } = await eventually(
        async () => {
          const a = await axis();
          return isDeepStrictEqual(a.shown, a.expected) ? a : undefined;
        },
        `${id} to plot the windows of the feed`,
        10_000,
      ).catch(axis);
      assert.deepEqual(shown, expected, `${id}: x values and axis are the window starts the feed sent`);
    }
    assert.deepEqual(problems, []);

    const dir = mkdtempSync(path.join(tmpdir(), 'sluice-dashboard-'));
    const shot = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
  } finally {
    await browser?.close();
    await srv.close();
    for (const mt of Object.values(topics)) await mt.close();
  }
});
