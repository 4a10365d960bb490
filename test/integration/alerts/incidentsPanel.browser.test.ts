import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import type { Incident } from '../../../src/alerts/incident.ts';
import { ensureIncidentsTopic, openIncidentWriter } from '../../../src/alerts/incidentStore.ts';
import { linkTo } from '../../../src/alerts/incidentTracker.ts';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

/**
 * The dashboard's Incidents panel in a real headless Chromium against `sluice feed` on the real
 * stack: incidents written to the incidents topic appear (open first, the linked one highlighted),
 * a resolution and a tombstone written later change the page live.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];

function incident(rule: Incident['rule'], subject: string, over: Partial<Incident> = {}): Incident {
  const now = new Date().toISOString();
  const key = `${rule}|${subject}`;
  return {
    key,
    id: `id-${subject}`,
    rule,
    subject,
    status: 'open',
    severity: 'critical',
    summary: `${subject} is wrong`,
    startedAt: now,
    updatedAt: now,
    resolvedAt: null,
    evidence: { value: 1 },
    dashboardUrl: linkTo('http://127.0.0.1:8080/', key),
    revision: 1,
    ...over,
  };
}

test('the Incidents panel shows the open and recently resolved incidents and follows the topic live', async () => {
  const base = await realStack();
  const cfg = { ...base, incidentsTopic: uniqueName('it_incidents_panel') };
  const kafka = createKafkaClient(cfg, 'it-incidents-panel');
  await ensureIncidentsTopic(kafka, cfg);
  const writer = await openIncidentWriter(kafka, cfg.incidentsTopic);
  const stale = incident('freshness_breach', 'oltp.orders');
  const gone = incident('dlq_rate_high', 'oltp.orders.dlq', {
    status: 'resolved',
    severity: 'warning',
    resolvedAt: new Date().toISOString(),
    revision: 2,
  });
  await writer.write([
    { key: stale.key, incident: stale },
    { key: gone.key, incident: gone },
  ]);
  const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0 });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await page.goto(`${srv.url}/?incident=${encodeURIComponent(stale.key)}`);
    const row = (key: string) => page.locator(`[data-testid="incidents-table"] tr[data-key="${key}"]`);
    await row(stale.key).and(page.locator('[data-status="open"]')).waitFor({ timeout: 30_000 });
    await row(gone.key).and(page.locator('[data-status="resolved"]')).waitFor();
    const keys = await page
      .locator('[data-testid="incidents-table"] tbody tr')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')));
    assert.deepEqual(keys, [stale.key, gone.key], 'open first');
    const cells = await row(stale.key).locator('td').allTextContents();
    assert.deepEqual(cells.slice(0, 4), ['critical', 'freshness_breach', 'oltp.orders', 'oltp.orders is wrong']);
    assert.match(cells[4], /^since \d+ s ago$/);
    assert.match((await row(stale.key).getAttribute('class')) ?? '', /highlight/, 'the linked incident');
    assert.equal(await page.getByTestId('incidents-open').textContent(), '1 open');

    // Live: the open one resolves, the old one is forgotten (a tombstone).
    const resolvedAt = new Date().toISOString();
    await writer.write([
      {
        key: stale.key,
        incident: { ...stale, status: 'resolved', resolvedAt, updatedAt: resolvedAt, revision: 2 },
      },
      { key: gone.key, incident: null },
    ]);
    await row(stale.key).and(page.locator('[data-status="resolved"]')).waitFor({ timeout: 30_000 });
    await row(gone.key).waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('incidents-open').textContent(), '0 open');
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await srv.close();
    await writer.close();
  }
});
