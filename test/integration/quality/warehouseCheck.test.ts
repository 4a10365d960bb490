import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { runWarehouseTests, type WarehouseTestResult } from '../../../src/quality/runWarehouseTests.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { WAREHOUSE_TESTS } from '../../../src/shop/warehouseTests.ts';
import { type CliRun, runSluice } from '../../support/cli.ts';
import { realStack, uniqueName } from '../../support/stack.ts';
import { createWarehouse, loadRows } from '../../support/warehouseFixture.ts';

const ORPHAN = 'relationships gold.fact_order_items.product_key -> gold.dim_products.product_key';

function check(args: string[]): Promise<CliRun> {
  return runSluice(['check', ...args]);
}

/** `sluice check --json`: exit code and the report. */
async function checkJson(schemaPrefix: string) {
  const run = await check(['--json', '--schema-prefix', schemaPrefix]);
  const report = JSON.parse(run.stdout) as { ok: boolean; tests: WarehouseTestResult[] };
  return { ...run, report, byName: new Map(report.tests.map((t) => [t.name, t])) };
}

/** The names of the tests that did not pass. */
function notPassing(results: readonly WarehouseTestResult[]): string[] {
  return results.filter((r) => r.status !== 'pass').map((r) => `${r.status} ${r.name}`);
}

async function connect(cfg: Config): Promise<pg.Client> {
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  return client;
}

test('sluice check passes on a consistent warehouse, fails with the orphan product key, passes once it is gone', async () => {
  const cfg = await realStack();
  const schemaPrefix = uniqueName('it_chk');
  const s = layerSchemas(schemaPrefix);
  const client = await connect(cfg);
  try {
    await createWarehouse(client, schemaPrefix);
    await loadRows(client, s);

    const clean = await checkJson(schemaPrefix);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.report.ok, true);
    assert.equal(clean.report.tests.length, WAREHOUSE_TESTS.length);
    assert.deepEqual(notPassing(clean.report.tests), []);
    assert.equal(clean.byName.get(ORPHAN)?.table, `${s.gold}.fact_order_items`);

    await client.query(
      `insert into "${s.gold}".fact_order_items (order_item_id, order_id, product_key, quantity, unit_price,
         line_amount, updated_at) values (1002, 101, 424242, 1, 1.00, 1.00, now())`,
    );
    const orphan = await checkJson(schemaPrefix);
    assert.equal(orphan.code, 1);
    assert.equal(orphan.report.ok, false);
    assert.deepEqual(notPassing(orphan.report.tests), [`fail ${ORPHAN}`]);
    const failed = orphan.byName.get(ORPHAN);
    assert.equal(failed?.kind, 'relationships');
    assert.equal(failed?.column, 'product_key');
    assert.equal(failed?.failingRows, 1);
    assert.deepEqual(failed?.examples, ['424242']);
    assert.match(orphan.stderr, /SLUICE_ERR_WAREHOUSE_TEST_FAILED: 1 of \d+ warehouse tests failed/);

    const table = await check(['--schema-prefix', schemaPrefix]);
    assert.equal(table.code, 1);
    const line = table.stdout.split('\n').find((l) => l.includes(ORPHAN));
    assert.match(line ?? '', /^fail\s+relationships gold\.fact_order_items\.product_key .*\s1\s+424242$/);
    assert.match(table.stdout, /tests: \d+ passed, 1 failed, 0 warned, 0 could not run/);

    await client.query(`delete from "${s.gold}".fact_order_items where order_item_id = 1002`);
    const again = await checkJson(schemaPrefix);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(notPassing(again.report.tests), []);
  } finally {
    for (const schema of Object.values(s)) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
});

test('a null key, a duplicate key and an unknown status each fail their own test; freshness warns, then fails', async () => {
  const cfg = await realStack();
  const schemaPrefix = uniqueName('it_chk');
  const s = layerSchemas(schemaPrefix);
  const client = await connect(cfg);
  try {
    await createWarehouse(client, schemaPrefix);
    await loadRows(client, s);
    // The sink's table refuses such rows; a table loaded by anything else may hold them.
    await client.query(`alter table "${s.gold}".fact_orders drop constraint fact_orders_pkey`);
    await client.query(`alter table "${s.gold}".fact_orders alter column order_id drop not null`);
    const insert = (id: number | null, status: string) =>
      client.query(
        `insert into "${s.gold}".fact_orders (order_id, customer_key, date_key, status, total_amount, currency,
           ordered_at, updated_at) values ($1, 1, 20261202, $2, 1.00, 'EUR', now(), now())`,
        [id, status],
      );
    await insert(100, 'paid');
    await insert(null, 'pending');
    await insert(102, 'shiped');

    const sent: string[] = [];
    const recorder = {
      query: (text: string, values?: unknown[]) => {
        sent.push(text.startsWith('with') || text.startsWith('select') ? 'test' : text);
        return client.query(text, values);
      },
    } as unknown as pg.ClientBase;
    const results = await runWarehouseTests(recorder, { schemaPrefix });
    assert.deepEqual(
      sent,
      WAREHOUSE_TESTS.flatMap(() => ['begin transaction read only', 'test', 'rollback']),
      'every test is one query in its own read-only transaction, rolled back',
    );
    assert.deepEqual(notPassing(results).sort(), [
      'fail accepted_values gold.fact_orders.status',
      'fail not_null gold.fact_orders.order_id',
      'fail unique gold.fact_orders.order_id',
    ]);
    const byName = new Map(results.map((r) => [r.name, r]));
    const pick = (name: string) => {
      const r = byName.get(name);
      return [r?.failingRows, r?.examples];
    };
    assert.deepEqual(pick('unique gold.fact_orders.order_id'), [2, ['100']]);
    assert.deepEqual(pick('not_null gold.fact_orders.order_id'), [1, []]);
    assert.deepEqual(pick('accepted_values gold.fact_orders.status'), [1, ['shiped']]);
    const fresh = WAREHOUSE_TESTS.filter((t) => t.kind === 'freshness');
    await client.query(`update "${s.gold}".fact_orders set _loaded_at = now() - interval '3 hours'`);
    const [warn] = await runWarehouseTests(client, { schemaPrefix, tests: fresh });
    assert.equal(warn.status, 'warn');
    assert.match(warn.message ?? '', /, 3 h old \(warn after 2 h, error after 24 h\)$/);
    await client.query(`update "${s.gold}".fact_orders set _loaded_at = now() - interval '25 hours'`);
    const [stale] = await runWarehouseTests(client, { schemaPrefix, tests: fresh });
    assert.equal(stale.status, 'fail');

    const [missing] = await runWarehouseTests(client, { schemaPrefix: uniqueName('it_none'), tests: fresh });
    assert.equal(missing.status, 'error');
    assert.match(missing.message ?? '', /does not exist/);
  } finally {
    for (const schema of Object.values(s)) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
});
