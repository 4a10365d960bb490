import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricOfTopic, topicOfMetric } from '../../../src/feed/feedUpdate.ts';
import { recordToUpdate } from '../../../src/feed/metricRecords.ts';
import { encodeQualityMinute, type QualityMinute, qualityRecordKey } from '../../../src/quality/qualityLedger.ts';
import type { AvroSerde } from '../../../src/serde/avroSerde.ts';
// @ts-expect-error: a browser module without types
import { applyQualityUpdate, qualityWindows } from '../../../src/feed/dashboardClient/qualityPanel.js';

const MIN = 60_000;
const M = Date.UTC(2026, 0, 2, 12, 3, 0);

const minute = (start: number, checked: number, failed: number, runner = 'r1'): QualityMinute => ({
  ...{
    window_start: start,
    window_end: start + MIN,
    topology: 'orders',
    topic: 'oltp.orders',
    rule: 'order_status_known',
  },
  ...{ checked, passed: checked - failed, failed, runner, final: false, emitted_at: start + 10_000 },
});

test('the feed serves the quality topic as the metric `quality`', () => {
  assert.equal(topicOfMetric('quality'), 'sluice.quality');
  assert.equal(metricOfTopic('sluice.quality'), 'quality');
  assert.equal(topicOfMetric('revenue_per_minute'), 'metrics.revenue_per_minute');
  assert.equal(metricOfTopic('sluice.other'), undefined);
});

test('a quality record (JSON, no schema) becomes a feed update with its counts', () => {
  const m = minute(M, 100, 10);
  const noAvro = { decodeSync: () => assert.fail('quality records are not Avro') } as unknown as AvroSerde;
  const u = recordToUpdate(noAvro, 'sluice.quality', 0, {
    key: Buffer.from(qualityRecordKey(m)),
    value: encodeQualityMinute(m),
    offset: '7',
    timestamp: String(M),
    headers: {},
  } as never);
  assert.ok(u);
  assert.equal(u.metric, 'quality');
  assert.equal(u.key, qualityRecordKey(m));
  const body = JSON.parse(`${u.body}}`);
  assert.deepEqual(body.window, { start: M, end: M + MIN });
  assert.equal(body.final, false);
  assert.deepEqual(
    [body.value.topology, body.value.topic, body.value.rule, body.value.checked, body.value.failed],
    ['orders', 'oltp.orders', 'order_status_known', 100, 10],
  );
});

test('the dashboard panel sums 5 minutes and the hour; a later update of a key replaces it', () => {
  const update = (m: QualityMinute) =>
    applyQualityUpdate({ key: qualityRecordKey(m), window: { start: m.window_start, end: m.window_end }, value: m });
  update(minute(M, 50, 5));
  update(minute(M, 100, 10)); // the same runner's minute, grown
  update(minute(M, 100, 0, 'r2')); // a replica
  update(minute(M - 10 * MIN, 100, 50)); // in the hour only
  update(minute(M - 60 * MIN, 100, 100)); // older than the hour
  const w = qualityWindows(M + 20_000).get('orders|oltp.orders|order_status_known');
  assert.deepEqual(w, { m5: [200, 10], h1: [300, 60] });
});
