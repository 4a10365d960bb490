import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tablePlanOf } from '../../../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig } from '../../../connectors/postgres/warehouse/config.ts';
import { mergeSql } from '../../../connectors/postgres/warehouse/merge.ts';
import { copySql } from '../../../connectors/postgres/warehouse/stage.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type { Customer, Product } from '../../../src/domain/types.generated.ts';
import { EXCLUDED_STATUSES, MART_SOURCES } from '../../../src/shop/martDefinitions.ts';
import {
  MART_TABLES,
  MART_TESTS,
  martTablesSql,
  recomputeMartsSql,
  touchedGroupsSql,
} from '../../../src/shop/warehouseMarts.ts';
import { medallionTables, toDimCustomer, toDimProduct } from '../../../src/shop/warehouseModel.ts';
import { WAREHOUSE_TESTS } from '../../../src/shop/warehouseTests.ts';

const orders = () => loadSchema('silver.orders') as unknown as Record<string, unknown>;

function upsertPlan() {
  const cfg = parseWarehouseSinkConfig({
    avroSchema: 'silver.orders',
    schema: 'silver',
    table: 'orders',
    mode: 'upsert',
    keyColumns: ['order_id'],
    orderingColumn: 'updated_at',
    deleteWhen: { field: 'op', equals: 'd' },
  });
  return tablePlanOf(cfg, orders());
}

test('upsert with deletes: the newest record of a key decides; a delete removes the row only when newer', () => {
  const plan = upsertPlan();
  assert.equal(mergeSql(plan, 'silver.orders').length, 1, 'no deleteWhen: the plain upsert');
  const [upsert, del] = mergeSql(plan, 'silver.orders', true);
  assert.match(upsert, /\) l where not l\._deleted\non conflict \("order_id"\)/);
  assert.match(del, /^delete from "silver"\."orders" t using \(select distinct on \("order_id"\)/);
  assert.match(del, /order by "order_id", "updated_at" desc nulls last, _seq desc\) d/);
  // The same rule as an update: a greater updated_at, or a tie and the later record of the partition.
  assert.ok(del.includes('where d._deleted and t."order_id" = d."order_id" and (t."updated_at" is null'));
  assert.ok(del.includes('or d."updated_at" > t."updated_at" or (d."updated_at" = t."updated_at" and'));
  assert.ok(del.includes('d."_offset" >= t."_offset"'));
  assert.match(copySql(plan, 'silver.orders'), /_valid_from, _deleted, _seq\) from stdin$/);
});

test('SCD2 with deletes: deletes open no version; the current version is closed at the last delete', () => {
  const cfg = parseWarehouseSinkConfig({
    avroSchema: 'silver.orders',
    schema: 'gold',
    table: 'x',
    mode: 'scd2',
    keyColumns: ['order_id'],
    orderingColumn: 'updated_at',
    trackedColumns: ['status'],
  });
  const plan = tablePlanOf(cfg, orders());
  assert.equal(mergeSql(plan, 'gold.x').length, 3);
  const sql = mergeSql(plan, 'gold.x', true);
  assert.equal(sql.length, 4);
  assert.match(sql[0], /from pg_temp\.sluice_stage_[0-9a-f]{12} where not _deleted/);
  assert.match(sql[3], /set "valid_to" = d\._valid_from, "is_current" = false/);
  assert.match(sql[3], /t\."is_current" and t\."valid_from" <= d\._valid_from$/);
});

test('merge hooks are refused on append; deleteWhen is validated', () => {
  assert.throws(
    () =>
      parseWarehouseSinkConfig({
        avroSchema: 'silver.orders',
        mode: 'append',
        mergeHooks: { afterMerge: async () => {} },
      }),
    (e) => isSluiceError(e, 'CONFIG_INVALID') && /mergeHooks apply to upsert and scd2 only/.test(e.message),
  );
  assert.throws(
    () => parseWarehouseSinkConfig({ avroSchema: 'silver.orders', deleteWhen: { field: '', equals: 'd' } as never }),
    (e) => isSluiceError(e, 'CONFIG_INVALID'),
  );
});

test('a deleted product stays inactive with its category; a deleted customer closes at capture time', () => {
  const p = {
    product_id: 5,
    sku: 'S5',
    name: 'Five',
    category: 'toys',
    price: '1.00',
    active: true,
    created_at: 1,
    updated_at: 10,
    op: 'd',
    extracted_at: 20,
  } as Product;
  assert.deepEqual([toDimProduct(p).active, toDimProduct(p).deleted_at, toDimProduct(p).category], [false, 20, 'toys']);
  assert.deepEqual([toDimProduct({ ...p, op: 'u' }).active, toDimProduct({ ...p, op: 'u' }).deleted_at], [true, null]);
  const c = { customer_id: 4, updated_at: 10, extracted_at: 30, op: 'd' } as Customer;
  assert.equal(toDimCustomer(c).updated_at, 30, 'the version ends when the delete was captured');
  assert.equal(toDimCustomer({ ...c, op: 'u' }).updated_at, 10);
});

test('the medallion deletes by op d; the mart sources carry the hooks and create every table the marts read', () => {
  const tables = medallionTables({ schemaPrefix: 'it_x' });
  const withDeletes = tables.filter((t) => t.sink.deleteWhen).map((t) => `${t.layer}.${t.sink.table}`);
  assert.deepEqual(withDeletes.sort(), [
    'gold.dim_customers',
    'gold.fact_order_items',
    'gold.fact_orders',
    'silver.customers',
    'silver.order_items',
    'silver.orders',
    'silver.products',
  ]);
  const hooked = tables.filter((t) => t.sink.mergeHooks).map((t) => t.sink.table);
  assert.deepEqual(hooked.sort(), [...MART_SOURCES].sort());
  for (const t of tables.filter((x) => x.sink.mergeHooks)) {
    const setup = (t.sink.setupSql ?? []).join('\n');
    for (const name of [...MART_SOURCES, ...MART_TABLES])
      assert.match(setup, new RegExp(`create table if not exists "it_x_gold"\\."${name}"`), `${t.sink.table}: ${name}`);
  }
  assert.match(tables.find((t) => t.sink.table === 'fact_orders')!.sink.setupSql!.join('\n'), /"dim_date"/);
});

test('mart DDL keeps the columns readers rely on; the SQL quotes the schema and excludes the same statuses', () => {
  const ddl = martTablesSql('we"ird');
  const columns: Record<string, string[]> = {
    mart_revenue_daily: [
      'order_date date not null',
      'category text not null',
      'revenue numeric(14,2) not null',
      'orders bigint not null',
      'avg_order_value numeric(14,2) not null',
      'primary key (order_date, category)',
    ],
    mart_customers: [
      'customer_key bigint not null',
      'primary key (customer_key)',
      'first_order_at timestamptz not null',
      'last_order_at timestamptz not null',
      'orders bigint not null',
      'lifetime_value numeric(14,2) not null',
      'cohort_month date not null',
    ],
    mart_products: [
      'product_key bigint not null',
      'primary key (product_key)',
      'units bigint not null',
      'revenue numeric(14,2) not null',
      'revenue_rank integer not null',
    ],
  };
  for (const [mart, cols] of Object.entries(columns)) {
    const create = ddl.find((q) => q.includes(`"we""ird"."${mart}" (`));
    assert.ok(create, mart);
    for (const c of cols) assert.ok(create.includes(c), `${mart}: ${c}`);
  }
  const recompute = recomputeMartsSql('g');
  const rule = `status not in (${EXCLUDED_STATUSES.map((s) => `'${s}'`).join(', ')})`;
  assert.equal(recompute.split(rule).length - 1, 3, 'every mart applies the status rule');
  assert.match(recompute, /rank\(\) over \(order by revenue desc\)/);
  for (const source of MART_SOURCES)
    assert.match(touchedGroupsSql('g', source, 'pg_temp.s', '"g"."t"'), /insert into pg_temp\.sluice_mart_days/);
});

test('sluice check runs the mart tests', () => {
  for (const t of MART_TESTS) assert.ok(WAREHOUSE_TESTS.includes(t));
  assert.deepEqual([...new Set(MART_TESTS.map((t) => t.table))].sort(), [
    'mart_customers',
    'mart_products',
    'mart_revenue_daily',
  ]);
});
