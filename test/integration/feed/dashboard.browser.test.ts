import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import client from 'prom-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { createMetricTopic, type MetricTopic } from './feedTestKit.ts';

/**
 * The dashboard in a real headless Chromium (Debian's package, driven by playwright-core; no
 * browser download) against a feed on the real stack: the page connects, shows the snapshot, and
 * its numbers change as new metric records are produced. A screenshot is saved for a human look.
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
  await topics.active_sessions.produce(
    minutes.map((m, i) => ({
      window_start: m,
      window_end: m + MINUTE,
      count: Math.round(180 + 60 * Math.sin(i / 5) + rnd() * 30),
      final: m !== now,
      emitted_at: Date.now(),
    })),
  );
  await topics.funnel_5m.produce(
    minutes
      .filter((m) => m % (5 * MINUTE) === 0)
      .map((m) => {
        const views = Math.round(900 + rnd() * 200);
        const productViews = Math.round(views * 0.7);
        const carts = Math.round(views * (0.22 + rnd() * 0.05));
        const checkouts = Math.round(carts * 0.55);
        const purchases = Math.round(checkouts * (0.6 + rnd() * 0.1));
        return {
          window_start: m,
          window_end: m + 5 * MINUTE,
          views,
          product_views: productViews,
          carts,
          checkouts,
          purchases,
          view_to_cart: carts / views,
          cart_to_checkout: checkouts / carts,
          checkout_to_purchase: purchases / checkouts,
          view_to_purchase: purchases / views,
          final: m + 5 * MINUTE <= now,
          emitted_at: Date.now(),
        };
      }),
  );
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
    name: 'sluice_consumer_lag',
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
    await page.goto(`${srv.url}/?metricPrefix=${encodeURIComponent(prefix)}`);

    const status = page.getByTestId('connection-status');
    await page.waitForSelector('[data-testid="connection-status"][data-state="live"]', { timeout: 30_000 });
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
