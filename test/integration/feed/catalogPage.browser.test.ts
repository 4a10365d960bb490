import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { realStack } from '../../support/stack.ts';

/**
 * The dashboard's catalog page (issue 14, item 6) in a real headless Chromium against a feed
 * server on the real stack: `/api/catalog` asks for the feed token, answers what `sluice catalog
 * --json` holds (live: registry versions, freshness), and the page lists every entry with its
 * owner and PII marks, filters by name, and says so when the token is missing.
 */

const TOKEN = 'catalog-page-token';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'];

interface Entry {
  name: string;
  kind: string;
  owner: { team: string } | null;
  fields: { name: string; pii: string | null }[];
  schema: { status: string };
}

test('the catalog page lists every topic and table with owner and PII marks, behind the feed token', async () => {
  const cfg = await realStack();
  const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0, feed: { token: TOKEN } });
  let browser: Browser | undefined;
  try {
    const refused = await fetch(`${srv.url}/api/catalog`);
    assert.equal(refused.status, 401, 'no token, no catalog');
    const res = await fetch(`${srv.url}/api/catalog`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    const { entries } = (await res.json()) as { entries: Entry[] };
    const customers = entries.find((e) => e.name === 'silver.customers');
    assert.ok(customers, 'silver.customers is in the catalog');
    assert.ok(customers.owner?.team, 'with the owner its topology declares');
    assert.ok(
      customers.fields.some((f) => f.name === 'email' && f.pii === 'email'),
      'with the PII mark of its email field',
    );
    assert.ok(
      entries.some((e) => e.kind === 'table'),
      'warehouse tables too',
    );
    assert.ok(
      entries.some((e) => e.schema.status === 'ok'),
      'live facts: the registry was asked (some subject is registered on the stack)',
    );

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`${srv.url}/catalog?token=${TOKEN}`);
    await page.waitForSelector('[data-testid="catalog-status"][data-state="live"]', { timeout: 30_000 });
    assert.deepEqual(problems, []);
    const rows = page.locator('#catalog-rows tr');
    assert.equal(await rows.count(), entries.length, 'one row per entry');
    const row = page.locator('#catalog-rows tr[data-name="silver.customers"]');
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[2], customers.owner!.team);
    const marked = customers.fields.filter((f) => f.pii).length;
    assert.equal(cells[4], `${customers.fields.length} (${marked})`, 'fields and how many carry a PII mark');

    await page.fill('[data-testid="catalog-filter"]', 'silver.customers');
    const shown = await page
      .locator('#catalog-rows tr:not([hidden])')
      .evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: { name?: string } }).dataset.name));
    assert.ok(shown.includes('silver.customers') && shown.length < entries.length, `filtered to ${shown}`);
    assert.ok(
      shown.every((n) => n?.includes('silver.customers')),
      'the filter keeps what matches',
    );

    await page.goto(`${srv.url}/catalog`);
    await page.waitForSelector('[data-testid="catalog-status"][data-state="offline"]', { timeout: 30_000 });
    assert.match((await page.getByTestId('catalog-status').textContent()) ?? '', /token/);
  } finally {
    await browser?.close();
    await srv.close();
  }
});
