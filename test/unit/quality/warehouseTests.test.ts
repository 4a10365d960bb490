import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ORDER_STATUSES } from '../../../src/shop/oltp/oltpDdl.ts';
import { medallionTables } from '../../../src/shop/warehouseModel.ts';
import { GOLD_TESTS, testName, WAREHOUSE_TESTS, type WarehouseTest } from '../../../src/shop/warehouseTests.ts';
import { warehouseTestSql } from '../../../src/quality/warehouseTestSql.ts';
import {
  duration,
  formatCheckTable,
  outcomeOf,
  summarize,
  type WarehouseTestResult,
} from '../../../src/quality/runWarehouseTests.ts';

const WRAPPER =
  ')\nselect count(*)::bigint as failing_rows,\n' +
  '       array(select v::text from (select distinct v from failing where v is not null) d order by v limit $LIMIT)' +
  ' as examples\n  from failing';

function wrapped(failing: string, limitParam: number): string {
  return `with failing as (\n  ${failing}\n${WRAPPER.replace('$LIMIT', `$${limitParam}::int`)}`;
}

test('unique: duplicates among non-null values, the filter value a parameter, names quoted under the prefix', () => {
  const q = warehouseTestSql(
    {
      kind: 'unique',
      layer: 'gold',
      table: 'dim_customers',
      column: 'customer_key',
      where: { column: 'is_current', equals: true },
    },
    'it_x',
  );
  assert.equal(
    q.text,
    wrapped(
      'select v from (select "customer_key" as v, count(*) over (partition by "customer_key") as n\n' +
        '    from "it_x_gold"."dim_customers" where "customer_key" is not null and "is_current" = $1) c where n > 1',
      2,
    ),
  );
  assert.deepEqual(q.values, [true, 5]);
});

test('not_null: rows with a null, named by their row key (none when the key itself is tested)', () => {
  const q = warehouseTestSql({ kind: 'not_null', layer: 'silver', table: 'orders', column: 'x"y', rowKey: 'order_id' });
  assert.equal(q.text, wrapped('select "order_id" as v from "silver"."orders" where "x""y" is null', 1));
  assert.deepEqual(q.values, [5]);
  const pk = warehouseTestSql({ kind: 'not_null', layer: 'gold', table: 'fact_orders', column: 'order_id' }, 'p');
  assert.equal(pk.text, wrapped('select null::text as v from "p_gold"."fact_orders" where "order_id" is null', 1));
});

test('relationships: non-null child values without a parent row, both tables under the prefix', () => {
  const t = GOLD_TESTS.find(
    (x) => x.kind === 'relationships' && x.table === 'fact_order_items' && x.column === 'product_key',
  );
  assert.ok(t);
  const q = warehouseTestSql(t, 'it_y');
  assert.equal(
    q.text,
    wrapped(
      'select c."product_key" as v from "it_y_gold"."fact_order_items" c\n' +
        '   where c."product_key" is not null\n' +
        '     and not exists (select 1 from "it_y_gold"."dim_products" r where r."product_key" = c."product_key")',
      1,
    ),
  );
  assert.deepEqual(q.values, [5]);
});

test('accepted_values: the values go as one text[] parameter, never into the SQL text', () => {
  const values = ['paid', "it's'; drop table x; --"];
  const q = warehouseTestSql({
    kind: 'accepted_values',
    layer: 'gold',
    table: 'fact_orders',
    column: 'status',
    values,
  });
  assert.equal(
    q.text,
    wrapped(
      'select "status" as v from "gold"."fact_orders"\n' +
        '   where "status" is not null and not ("status"::text = any($1::text[]))',
      2,
    ),
  );
  assert.deepEqual(q.values, [values, 5]);
  assert.ok(!q.text.includes('paid') && !q.text.includes('drop'));
});

test('freshness: the newest value against the warn and error ages, both parameters in seconds', () => {
  const q = warehouseTestSql(
    {
      kind: 'freshness',
      layer: 'gold',
      table: 'fact_orders',
      column: '_loaded_at',
      warnAfterMs: 7_200_000,
      errorAfterMs: 86_400_000,
    },
    'z',
  );
  assert.equal(
    q.text,
    'select max("_loaded_at") as latest, extract(epoch from now() - max("_loaded_at"))::float8 as age_seconds,\n' +
      '  case when max("_loaded_at") is null then \'fail\'\n' +
      '       when max("_loaded_at") < now() - make_interval(secs => $2::float8) then \'fail\'\n' +
      '       when max("_loaded_at") < now() - make_interval(secs => $1::float8) then \'warn\'\n' +
      "       else 'pass' end as status\n" +
      '  from "z_gold"."fact_orders"',
  );
  assert.deepEqual(q.values, [7200, 86400]);
});

test('the declarations: unique + not_null on every gold and silver key, the star joins, the real statuses', () => {
  const names = new Set(WAREHOUSE_TESTS.map(testName));
  assert.equal(names.size, WAREHOUSE_TESTS.length, 'names are unique');
  const keys: Record<string, string> = { dim_customers: 'customer_sk', dim_date: 'date_key' };
  for (const t of medallionTables()) {
    if (t.layer === 'bronze') continue;
    const key = keys[t.sink.table!] ?? t.sink.keyColumns?.[0];
    for (const kind of ['unique', 'not_null'])
      assert.ok(names.has(`${kind} ${t.layer}.${t.sink.table}.${key}`), `${kind} ${t.layer}.${t.sink.table}.${key}`);
  }
  assert.ok(names.has('unique gold.dim_date.date_key'));
  for (const r of [
    'gold.fact_orders.customer_key -> gold.dim_customers.customer_key',
    'gold.fact_order_items.order_id -> gold.fact_orders.order_id',
    'gold.fact_order_items.product_key -> gold.dim_products.product_key',
    'gold.fact_orders.date_key -> gold.dim_date.date_key',
  ])
    assert.ok(names.has(`relationships ${r}`), r);
  const status = WAREHOUSE_TESTS.find((t) => t.kind === 'accepted_values' && t.layer === 'gold');
  assert.deepEqual(status?.kind === 'accepted_values' && [...status.values], [...ORDER_STATUSES]);
  assert.deepEqual(ORDER_STATUSES, ['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded']);
  const fresh = WAREHOUSE_TESTS.find((t) => t.kind === 'freshness');
  assert.ok(fresh?.kind === 'freshness' && fresh.warnAfterMs < fresh.errorAfterMs);
});

const UNIQUE: WarehouseTest = { kind: 'unique', layer: 'gold', table: 'fact_orders', column: 'order_id' };
const FRESH: WarehouseTest = {
  kind: 'freshness',
  layer: 'gold',
  table: 'fact_orders',
  column: '_loaded_at',
  warnAfterMs: 7_200_000,
  errorAfterMs: 86_400_000,
};

test('outcomes: failing rows fail (warn under severity warn); freshness keeps the SQL verdict and says why', () => {
  assert.deepEqual(outcomeOf(UNIQUE, { failing_rows: '0', examples: [] }), {
    status: 'pass',
    failingRows: 0,
    examples: [],
  });
  assert.deepEqual(outcomeOf(UNIQUE, { failing_rows: '3', examples: ['7', '9'] }), {
    status: 'fail',
    failingRows: 3,
    examples: ['7', '9'],
  });
  assert.equal(outcomeOf({ ...UNIQUE, severity: 'warn' }, { failing_rows: '3', examples: [] }).status, 'warn');
  const latest = new Date('2026-12-03T00:00:00Z');
  assert.deepEqual(outcomeOf(FRESH, { latest, age_seconds: 10_800, status: 'warn' }), {
    status: 'warn',
    failingRows: 1,
    examples: ['2026-12-03T00:00:00.000Z'],
    message: 'newest 2026-12-03T00:00:00.000Z, 3 h old (warn after 2 h, error after 24 h)',
  });
  assert.equal(outcomeOf(FRESH, { latest, age_seconds: 60, status: 'pass' }).status, 'pass');
  assert.equal(outcomeOf(FRESH, { latest, age_seconds: 90_000, status: 'fail' }).status, 'fail');
  assert.deepEqual(outcomeOf(FRESH, { latest: null, age_seconds: null, status: 'fail' }), {
    status: 'fail',
    failingRows: 1,
    examples: [],
    message: 'no rows (warn after 2 h, error after 24 h)',
  });
  assert.deepEqual(
    [duration(30_000), duration(90_000), duration(7_200_000), duration(3 * 86_400_000)],
    ['30 s', '1.5 min', '2 h', '3 d'],
  );
});

function result(
  name: string,
  status: WarehouseTestResult['status'],
  extra: Partial<WarehouseTestResult> = {},
): WarehouseTestResult {
  return {
    name,
    kind: 'unique',
    table: 'gold.t',
    column: 'c',
    status,
    failingRows: 0,
    examples: [],
    ...extra,
  };
}

test('the table: one aligned line per test with examples or the reason, then the counts; ok unless fail/error', () => {
  const results: WarehouseTestResult[] = [
    result('unique gold.t.c', 'pass'),
    result('relationships gold.t.c -> gold.u.c', 'fail', { failingRows: 12, examples: ['4', '8'] }),
    result('not_null gold.t.c', 'error', { message: 'relation "gold"."t" does not exist' }),
    result('freshness gold.t.c', 'warn', { failingRows: 1, message: 'newest x, 3 h old' }),
  ];
  assert.equal(
    formatCheckTable(results),
    [
      'STATUS  TEST                                FAILING  EXAMPLES / DETAIL',
      'pass    unique gold.t.c                     0',
      'fail    relationships gold.t.c -> gold.u.c  12       4, 8',
      'error   not_null gold.t.c                   0        relation "gold"."t" does not exist',
      'warn    freshness gold.t.c                  1        newest x, 3 h old',
      '',
      '4 tests: 1 passed, 1 failed, 1 warned, 1 could not run',
    ].join('\n'),
  );
  assert.deepEqual(summarize(results), { ok: false, counts: { pass: 1, fail: 1, warn: 1, error: 1 } });
  assert.equal(summarize([results[0], results[3]]).ok, true, 'warnings pass');
  assert.equal(summarize([results[0], results[2]]).ok, false, 'a test that cannot run fails the check');
});
