import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import client from 'prom-client';
import { pgConnection } from '../../../src/config/config.ts';
import { startWarehouseTestSchedule, type WarehouseTestSchedule } from '../../../src/quality/warehouseTestSchedule.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { testName, WAREHOUSE_TESTS } from '../../../src/shop/warehouseTests.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { createWarehouse, loadRows } from '../../support/warehouseFixture.ts';

const ORPHAN = 'relationships gold.fact_order_items.product_key -> gold.dim_products.product_key';

/** Every sample of a gauge, by its `test` label. */
async function byTest(registry: client.Registry, name: string): Promise<Map<string, number>> {
  const metric = await registry.getSingleMetric(name)?.get();
  return new Map((metric?.values ?? []).map((v) => [String(v.labels.test), v.value]));
}

/** The tests whose status gauge is not `value`. */
async function statusNot(registry: client.Registry, value: number): Promise<string[]> {
  const status = await byTest(registry, 'sluice_warehouse_test_status');
  return WAREHOUSE_TESTS.map(testName).filter((n) => status.get(n) !== value);
}

/** The runner's handles of the kinds the schedule opens: timers and sockets. */
function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap');
}

test('inside `sluice run` the scheduled warehouse tests pass, fail on an orphan product key, pass once it is gone', async () => {
  const cfg = await realStack();
  const before = openHandles();
  const schemaPrefix = uniqueName('it_wts');
  const s = layerSchemas(schemaPrefix);
  const db = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await db.connect();
  const registry = new client.Registry();
  let runs = 0;
  let schedule: WarehouseTestSchedule | undefined;
  try {
    await createWarehouse(db, schemaPrefix);
    await loadRows(db, s);
    schedule = startWarehouseTestSchedule(cfg, registry, {
      intervalMs: 300,
      schemaPrefix,
      onRun: () => {
        runs++;
      },
    });
    await eventually(async () => (await statusNot(registry, 0)).length === 0, 'every test passing in the gauges');
    const rows = await byTest(registry, 'sluice_warehouse_test_failing_rows');
    assert.equal(rows.size, WAREHOUSE_TESTS.length);
    assert.deepEqual([...new Set(rows.values())], [0]);
    const last = (await registry.getSingleMetric('sluice_warehouse_tests_last_run_timestamp_seconds')?.get())?.values[0]
      ?.value;
    assert.ok(last && Math.abs(last - Date.now() / 1000) < 60, `last run at ${last}`);

    await db.query(
      `insert into "${s.gold}".fact_order_items (order_item_id, order_id, product_key, quantity, unit_price,
         line_amount, updated_at) values (1002, 101, 424242, 1, 1.00, 1.00, now())`,
    );
    await eventually(
      async () => (await byTest(registry, 'sluice_warehouse_test_status')).get(ORPHAN) === 2,
      'the relationships test failing',
    );
    assert.deepEqual(await statusNot(registry, 0), [ORPHAN], 'only the relationships test fails');
    assert.equal((await byTest(registry, 'sluice_warehouse_test_failing_rows')).get(ORPHAN), 1);

    await db.query(`delete from "${s.gold}".fact_order_items where order_item_id = 1002`);
    // A nudge, as after a load (the interval would get there too: the unit tests pin the nudge's timing).
    const ranBefore = runs;
    schedule.requestRun();
    await eventually(async () => runs > ranBefore && (await statusNot(registry, 0)).length === 0, 'passing again');
    assert.equal((await byTest(registry, 'sluice_warehouse_test_failing_rows')).get(ORPHAN), 0);
  } finally {
    await schedule?.stop();
    for (const schema of Object.values(s)) await db.query(`drop schema if exists "${schema}" cascade`);
    await db.end();
  }
  // Its timer and its pooled connection are gone: a runner that stops it can exit.
  assert.deepEqual(openHandles(), before);
});
