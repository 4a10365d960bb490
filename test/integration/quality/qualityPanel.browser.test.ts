import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { startFeedServer } from '../../../src/feed/feedServer.ts';
import { createKafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import {
  encodeQualityMinute,
  minuteOf,
  type QualityMinute,
  qualityRecordKey,
} from '../../../src/quality/qualityLedger.ts';
import { ensureQualityTopic } from '../../../src/quality/qualityPublisher.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * The dashboard's quality panel (issue 14, item 2) in a real headless Chromium, fed by the live
 * feed from the quality topic on the real stack: each expectation's pass rate over 5 minutes and
 * an hour, replicas added up, the one under the alert threshold marked.
 */

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'];

test('the quality panel shows each expectation’s pass rate from the quality topic, replicas added up', async () => {
  const cfg = await realStack();
  const kafka = createKafkaClient(cfg, 'it-quality-panel');
  await ensureQualityTopic(cfg, kafka);
  const topology = uniqueName('it_qpanel');
  const start = minuteOf(Date.now());
  const minute = (rule: string, runner: string, checked: number, failed: number): QualityMinute => ({
    window_start: start,
    window_end: start + 60_000,
    topology,
    topic: 'it.orders',
    rule,
    checked,
    passed: checked - failed,
    failed,
    runner,
    final: false,
    emitted_at: Date.now(),
  });
  // Two replicas counted the failing rule: 150/15 and 50/5, 90 % together.
  const records = [
    minute('amount_positive', 'a', 150, 15),
    minute('amount_positive', 'b', 50, 5),
    minute('valid', 'a', 100, 0),
  ];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic: cfg.qualityTopic,
    acks: -1,
    messages: records.map((m) => ({ key: qualityRecordKey(m), value: encodeQualityMinute(m) })),
  });
  await producer.disconnect();

  const srv = await startFeedServer(cfg, { host: '127.0.0.1', port: 0, feed: { token: '' } });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1200 } });
    await page.goto(`${srv.url}/`);
    const rowsOf = () =>
      page
        .locator('#quality-table tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) =>
            Array.from((tr as unknown as { cells: { textContent: string }[] }).cells, (c) => c.textContent),
          ),
        );
    const ours = await eventually(async () => {
      const rows = (await rowsOf()).filter((r) => r[0] === topology);
      return rows.length === 2 && rows;
    }, 'both expectations in the panel');
    const byRule = new Map(ours.map((r) => [r[2], r]));
    assert.deepEqual(byRule.get('amount_positive'), [
      topology,
      'it.orders',
      'amount_positive',
      '90.0 % of 200 ⚠',
      '90.0 % of 200 ⚠',
    ]);
    assert.deepEqual(byRule.get('valid'), [topology, 'it.orders', 'valid', '100.0 % of 100', '100.0 % of 100']);
  } finally {
    await browser?.close();
    await srv.close();
  }
});
