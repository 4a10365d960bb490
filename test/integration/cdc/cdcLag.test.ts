import { test } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { createPostgresCdcSource } from '../../../connectors/postgres/cdc/source.ts';
import { eventually } from '../../support/stack.ts';
import { withCdcFixture } from './cdcFixture.ts';

/**
 * A slot that falls behind: the source is stopped while many changes happen; on restart
 * sluice_cdc_lag_bytes (on the registry the source was given, as the runner's /metrics) shows the
 * backlog, the source catches up, every change arrives, and the lag falls back.
 */

async function gauge(registry: client.Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return Number((metric?.values as { value: number }[] | undefined)?.[0]?.value ?? Number.NaN);
}

test('a slot that fell behind while the source was stopped: lag reported, caught up, nothing lost', async () => {
  await withCdcFixture(async (f) => {
    const first = createPostgresCdcSource(f.cfg, f.input);
    await first.start();
    await first.stop();
    const rows = 5000;
    for (let i = 0; i < 10; i++) {
      await f.sql(
        `insert into customers (customer_id, email, full_name, country)
         select g, 'c' || g || '@x.io', 'n' || g, 'DE' from generate_series($1::int + 1, $1::int + $2::int) g`,
        [i * (rows / 10), rows / 10],
      );
    }
    await f.sql(`update customers set country = 'FR' where customer_id % 2 = 0`);
    await f.sql(`delete from customers where customer_id % 5 = 0`);
    const afterWrites = await f.currentLsn();
    const backlog = afterWrites - (await f.confirmedFlush());

    const registry = new client.Registry();
    const cdc = createPostgresCdcSource(f.cfg, f.input, { registry });
    try {
      await cdc.start();
      // Measured as the source connected, before it streamed: the backlog the stopped slot held.
      const lagAtStart = await gauge(registry, 'sluice_cdc_lag_bytes');
      assert.ok(lagAtStart >= Number(backlog), `lag ${lagAtStart} bytes, backlog ${backlog} bytes`);
      const expected = rows + rows / 2 + (rows / 5) * 2;
      await eventually(async () => (await f.count('customers')) >= expected, 'the backlog published', 120_000);
      await eventually(async () => (await f.confirmedFlush()) >= afterWrites, 'the slot confirmed past the backlog');
      await eventually(
        async () => ((await cdc.refreshLag()) ?? Number.POSITIVE_INFINITY) < lagAtStart,
        'the lag to fall',
      );
      assert.ok((await gauge(registry, 'sluice_cdc_lag_bytes')) < lagAtStart);
      const events = await f.events('customers');
      assert.equal(events.length, expected);
      const ops = new Map<string, number>();
      for (const e of events)
        ops.set(String(e.value?.op ?? 'tombstone'), (ops.get(String(e.value?.op ?? 'tombstone')) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(ops), { c: rows, u: rows / 2, d: rows / 5, tombstone: rows / 5 });
      const acked = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_cdc_events_total');
      const total = ((acked?.values ?? []) as { value: number }[]).reduce((n, v) => n + v.value, 0);
      assert.equal(total, expected);
    } finally {
      await cdc.stop();
    }
  });
});
