import { test } from 'node:test';
import assert from 'node:assert/strict';
import clickstream, { DEDUPE_WINDOW_MS } from '../../../topologies/clickstream.ts';
import { createTestDriver } from '../../../src/testing/testDriver.ts';
import { click, product, T0 } from './fixtures.ts';

test('clicks are deduplicated by event_id within the window and checked for session, time, price and product', async () => {
  const d = await createTestDriver(clickstream, { now: T0 });
  d.pipeInput('oltp.products', product(1), { key: '1' });
  d.pipeInput('web.clickstream', click('e1'), { key: 's1' });
  d.pipeInput('web.clickstream', click('e1'), { key: 's1' });
  d.pipeInput('web.clickstream', click('e2', { session_id: null }), { key: null });
  d.pipeInput('web.clickstream', click('e3', { event_time: T0 + 24 * 3600_000 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('e4', { price: '-1.00' }), { key: 's1' });
  d.pipeInput('web.clickstream', click('e5', { price: '250000.00' }), { key: 's1' });
  d.pipeInput('web.clickstream', click('e6', { product_id: 404 }), { key: 's1' });
  d.pipeInput('web.clickstream', click('e7', { event_type: 'page_view', product_id: null, price: null }), {
    key: 's1',
  });

  assert.deepEqual(
    d.readOutput('silver.clickstream').map((r) => (r.value as { event_id: string }).event_id),
    ['e1', 'e7'],
  );
  assert.deepEqual(
    d.readOutput('web.clickstream.dlq').map((r) => r.headers['sluice.error.rule']),
    [
      'click_event_unique',
      'click_session_present',
      'click_event_time_not_future',
      'click_price_range',
      'click_price_range',
      'click_product_exists',
    ],
  );
  // The window is event time: the wall clock moving on changes nothing for the same event.
  d.advanceTime(DEDUPE_WINDOW_MS + 1);
  d.pipeInput('web.clickstream', click('e1'), { key: 's1' });
  assert.equal(
    d.readOutput('silver.clickstream').length,
    2,
    'the same event an hour of wall clock later is still a duplicate',
  );
  d.pipeInput('web.clickstream', click('e1', { event_time: T0 + DEDUPE_WINDOW_MS + 1 }), { key: 's1' });
  assert.equal(d.readOutput('silver.clickstream').length, 3, 'an event time outside the window is accepted again');
  assert.equal(d.committed('web.clickstream'), 10);
});
