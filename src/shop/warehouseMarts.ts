import { tablePlanOf } from '../../connectors/postgres/warehouse/avroToPg.ts';
import {
  type MergeHookContext,
  type MergeHooks,
  parseWarehouseSinkConfig,
} from '../../connectors/postgres/warehouse/config.ts';
import { createTableSql } from '../../connectors/postgres/warehouse/ddl.ts';
import { quoteIdent, sqlLiteral } from '../../connectors/postgres/warehouse/sqlQuote.ts';
import {
  EXCLUDED_STATUSES,
  MART_DEFINITIONS,
  MART_LOADED_AT,
  MART_SOURCES,
  type MartSource,
  UNKNOWN_CATEGORY,
} from './martDefinitions.ts';
import type { WarehouseTable } from './warehouseModel.ts';
import type { WarehouseTest } from './warehouseTests.ts';

/**
 * The gold marts, maintained by the warehouse sink in the transaction that writes the facts:
 *
 * - `mart_revenue_daily` (order_date, category): revenue, orders, average order value per UTC day
 *   of `ordered_at` and product category;
 * - `mart_customers` (customer_key): first and last order, orders, lifetime value, cohort month;
 * - `mart_products` (product_key): units, revenue, and the rank by revenue.
 *
 * Only orders that count as sales are in them: every status except `cancelled` and `refunded`
 * (pending orders count, as in the live revenue metric; an order that is cancelled or refunded
 * later leaves every mart). Amounts are summed as recorded, without currency conversion.
 * Category is the product's current one (`dim_products` is type 1); a line whose product is not
 * loaded yet counts under `unknown` until it is.
 *
 * Maintenance is incremental and always equal to SQL over the facts, whatever order the sinks
 * land rows in: before a fact or product merge, the groups its staged rows and their old rows
 * belong to are recorded (days × categories, customers, products); after the merge those groups
 * are recomputed from the fact tables (upsert, or delete when a group emptied). A transaction-level
 * advisory lock per gold schema, taken before the groups are read, serialises mart maintenance of
 * concurrent flush lanes and processes, so each recomputation reads what the others committed.
 * The rank is recomputed over all products whenever one changed (products are few: one sort).
 */

/** The mart tables, in the gold schema. */
export const MART_TABLES = MART_DEFINITIONS.map((d) => d.table);

/** Quoted names of the gold tables the marts read and write. */
function names(gold: string) {
  const t = (name: string) => `${quoteIdent(gold)}.${quoteIdent(name)}`;
  return {
    orders: t('fact_orders'),
    items: t('fact_order_items'),
    products: t('dim_products'),
    daily: t('mart_revenue_daily'),
    customers: t('mart_customers'),
    productMart: t('mart_products'),
  };
}

const counted = (alias: string) => `${alias}.status not in (${EXCLUDED_STATUSES.map((s) => sqlLiteral(s)).join(', ')})`;

/**
 * `create table if not exists` of the three marts, with their comments (idempotent).
 *
 * @example for (const sql of martTablesSql('gold')) await client.query(sql);
 */
export function martTablesSql(gold: string): string[] {
  const tableOf = (name: string) => `${quoteIdent(gold)}.${quoteIdent(name)}`;
  return [
    `create schema if not exists ${quoteIdent(gold)}`,
    ...MART_DEFINITIONS.flatMap((d) => {
      const table = tableOf(d.table);
      const columns = d.columns.map((c) => `${c.name} ${c.type} not null`);
      return [
        `create table if not exists ${table} (${columns.join(', ')}, ` +
          `_loaded_at timestamptz not null default now(), primary key (${d.primaryKey.join(', ')}))`,
        `comment on table ${table} is ${sqlLiteral(d.doc)}`,
        ...[...d.columns, MART_LOADED_AT].map(
          (c) => `comment on column ${table}.${quoteIdent(c.name)} is ${sqlLiteral(c.doc)}`,
        ),
      ];
    }),
  ];
}

/**
 * Creates the three marts in schema `gold` if they are missing (idempotent).
 *
 * @example await ensureMarts(client, 'it_x_gold');
 */
export async function ensureMarts(client: { query(sql: string): Promise<unknown> }, gold: string): Promise<void> {
  for (const sql of martTablesSql(gold)) await client.query(sql);
}

/**
 * The marts' warehouse tests (`sluice check`): keys, required measures, and that every key names a
 * dimension row. No freshness test: a mart changes in the transaction of the facts it comes from,
 * so `fact_orders`' freshness covers it (and a quiet group keeps its old `_loaded_at`, rightly).
 */
export const MART_TESTS: readonly WarehouseTest[] = [
  { kind: 'not_null', layer: 'gold', table: 'mart_revenue_daily', column: 'order_date' },
  { kind: 'not_null', layer: 'gold', table: 'mart_revenue_daily', column: 'category', rowKey: 'order_date' },
  { kind: 'not_null', layer: 'gold', table: 'mart_revenue_daily', column: 'avg_order_value', rowKey: 'order_date' },
  // 'unknown' (lines whose product is not loaded yet) is expected for a moment, not for long.
  {
    kind: 'relationships',
    layer: 'gold',
    table: 'mart_revenue_daily',
    column: 'category',
    to: { layer: 'gold', table: 'dim_products', column: 'category' },
    severity: 'warn',
  },
  { kind: 'unique', layer: 'gold', table: 'mart_customers', column: 'customer_key' },
  { kind: 'not_null', layer: 'gold', table: 'mart_customers', column: 'customer_key' },
  { kind: 'not_null', layer: 'gold', table: 'mart_customers', column: 'cohort_month', rowKey: 'customer_key' },
  {
    kind: 'relationships',
    layer: 'gold',
    table: 'mart_customers',
    column: 'customer_key',
    to: { layer: 'gold', table: 'dim_customers', column: 'customer_key' },
  },
  { kind: 'unique', layer: 'gold', table: 'mart_products', column: 'product_key' },
  { kind: 'not_null', layer: 'gold', table: 'mart_products', column: 'product_key' },
  { kind: 'not_null', layer: 'gold', table: 'mart_products', column: 'revenue_rank', rowKey: 'product_key' },
  {
    kind: 'relationships',
    layer: 'gold',
    table: 'mart_products',
    column: 'product_key',
    to: { layer: 'gold', table: 'dim_products', column: 'product_key' },
  },
];

/** Indexes the recomputations look groups up by (a group's facts, not every fact). */
function factIndexesSql(gold: string): string[] {
  const n = names(gold);
  return [
    `create index if not exists "fact_orders_date_key" on ${n.orders} (date_key)`,
    `create index if not exists "fact_orders_customer_key" on ${n.orders} (customer_key)`,
    `create index if not exists "fact_order_items_order_id" on ${n.items} (order_id)`,
    `create index if not exists "fact_order_items_product_key" on ${n.items} (product_key)`,
  ];
}

// ---- touched groups: session temp tables, emptied after each recomputation

const TOUCHED = {
  days: 'pg_temp.sluice_mart_days',
  customers: 'pg_temp.sluice_mart_customers',
  products: 'pg_temp.sluice_mart_products',
};

const TOUCHED_TABLES_SQL =
  `create temp table if not exists sluice_mart_days (date_key integer, category text) on commit delete rows;\n` +
  `create temp table if not exists sluice_mart_customers (customer_key bigint) on commit delete rows;\n` +
  `create temp table if not exists sluice_mart_products (product_key bigint) on commit delete rows`;

/** Advisory lock key of the marts of one gold schema. */
export function martLockKey(gold: string): string {
  return `sluice.warehouse.marts:${gold}`;
}

/**
 * The statement recording the groups a merge of `source` touches: those of the staged rows (new
 * values, delete images) and of the rows they replace (old values).
 */
export function touchedGroupsSql(gold: string, source: MartSource, stage: string, table: string): string {
  const n = names(gold);
  const category = `coalesce(d.category, ${sqlLiteral(UNKNOWN_CATEGORY)})`;
  switch (source) {
    case 'fact_orders':
      return `with k as (
  select order_id, customer_key, date_key from ${stage}
  union select t.order_id, t.customer_key, t.date_key from ${table} t
    where t.order_id in (select order_id from ${stage})
), c as (insert into ${TOUCHED.customers} select distinct customer_key from k),
p as (insert into ${TOUCHED.products} select distinct i.product_key from k join ${n.items} i on i.order_id = k.order_id)
insert into ${TOUCHED.days} select distinct k.date_key, ${category}
from k join ${n.items} i on i.order_id = k.order_id left join ${n.products} d on d.product_key = i.product_key`;
    case 'fact_order_items':
      return `with k as (
  select order_id, product_key from ${stage}
  union select t.order_id, t.product_key from ${table} t where t.order_item_id in (select order_item_id from ${stage})
), p as (insert into ${TOUCHED.products} select distinct product_key from k)
insert into ${TOUCHED.days} select distinct o.date_key, ${category}
from k join ${n.orders} o on o.order_id = k.order_id left join ${n.products} d on d.product_key = k.product_key`;
    case 'dim_products':
      // Only a product whose category changes (or that appears, leaving 'unknown') moves revenue.
      return `with s as (select distinct product_key, category from ${stage}),
cats as (
  select product_key, category from s
  union select s.product_key, coalesce(t.category, ${sqlLiteral(UNKNOWN_CATEGORY)})
    from (select distinct product_key from s) s left join ${table} t on t.product_key = s.product_key
), moved as (select product_key from cats group by product_key having count(*) > 1)
insert into ${TOUCHED.days} select distinct o.date_key, c.category
from moved m join cats c on c.product_key = m.product_key
join ${n.items} i on i.product_key = m.product_key join ${n.orders} o on o.order_id = i.order_id`;
  }
}

/** The statements recomputing the touched groups of every mart from the facts, then forgetting them. */
export function recomputeMartsSql(gold: string): string {
  const n = names(gold);
  const category = `coalesce(d.category, ${sqlLiteral(UNKNOWN_CATEGORY)})`;
  const day = `to_date(g.date_key::text, 'YYYYMMDD')`;
  const daily = `with g as (select distinct date_key, category from ${TOUCHED.days}),
fresh as (
  select g.date_key, g.category, sum(i.line_amount) as revenue, count(distinct o.order_id) as orders
  from g join ${n.orders} o on o.date_key = g.date_key
  join ${n.items} i on i.order_id = o.order_id left join ${n.products} d on d.product_key = i.product_key
  where ${category} = g.category and ${counted('o')}
  group by g.date_key, g.category
), gone as (
  delete from ${n.daily} m using g where m.order_date = ${day} and m.category = g.category
    and not exists (select 1 from fresh f where f.date_key = g.date_key and f.category = g.category)
)
insert into ${n.daily} as m (order_date, category, revenue, orders, avg_order_value)
select ${day}, g.category, g.revenue, g.orders, round(g.revenue / g.orders, 2) from fresh g
on conflict (order_date, category) do update
  set revenue = excluded.revenue, orders = excluded.orders, avg_order_value = excluded.avg_order_value,
      _loaded_at = now()
  where (m.revenue, m.orders) is distinct from (excluded.revenue, excluded.orders)`;
  const customers = `with g as (select distinct customer_key from ${TOUCHED.customers}),
fresh as (
  select o.customer_key, min(o.ordered_at) as first_order_at, max(o.ordered_at) as last_order_at,
         count(*) as orders, sum(o.total_amount) as lifetime_value
  from g join ${n.orders} o on o.customer_key = g.customer_key where ${counted('o')} group by o.customer_key
), gone as (
  delete from ${n.customers} m using g where m.customer_key = g.customer_key
    and not exists (select 1 from fresh f where f.customer_key = g.customer_key)
)
insert into ${n.customers} as m (customer_key, first_order_at, last_order_at, orders, lifetime_value, cohort_month)
select customer_key, first_order_at, last_order_at, orders, lifetime_value,
       date_trunc('month', first_order_at at time zone 'UTC')::date from fresh
on conflict (customer_key) do update
  set first_order_at = excluded.first_order_at, last_order_at = excluded.last_order_at, orders = excluded.orders,
      lifetime_value = excluded.lifetime_value, cohort_month = excluded.cohort_month, _loaded_at = now()
  where (m.first_order_at, m.last_order_at, m.orders, m.lifetime_value)
    is distinct from (excluded.first_order_at, excluded.last_order_at, excluded.orders, excluded.lifetime_value)`;
  const products = `with g as (select distinct product_key from ${TOUCHED.products}),
fresh as (
  select i.product_key, sum(i.quantity)::bigint as units, sum(i.line_amount) as revenue
  from g join ${n.items} i on i.product_key = g.product_key join ${n.orders} o on o.order_id = i.order_id
  where ${counted('o')} group by i.product_key
), gone as (
  delete from ${n.productMart} m using g where m.product_key = g.product_key
    and not exists (select 1 from fresh f where f.product_key = g.product_key)
)
insert into ${n.productMart} as m (product_key, units, revenue, revenue_rank)
select product_key, units, revenue, 0 from fresh
on conflict (product_key) do update set units = excluded.units, revenue = excluded.revenue, _loaded_at = now()
  where (m.units, m.revenue) is distinct from (excluded.units, excluded.revenue)`;
  // One sort of every product when any changed; only ranks that moved are written.
  const rank = `update ${n.productMart} m set revenue_rank = r.rk
from (select product_key, (rank() over (order by revenue desc))::int as rk from ${n.productMart}) r
where m.product_key = r.product_key and m.revenue_rank is distinct from r.rk
  and exists (select 1 from ${TOUCHED.products})`;
  const forget = Object.values(TOUCHED).map((t) => `delete from ${t}`);
  return [daily, customers, products, rank, ...forget].join(';\n');
}

/**
 * The merge hooks of a mart source's sink: lock the marts and record the touched groups before
 * the merge, recompute them after it — all in the flush transaction.
 *
 * @example warehouseSink({ ...options, mergeHooks: martHooks('gold', 'fact_orders') })
 */
export function martHooks(gold: string, source: MartSource): MergeHooks {
  const recompute = recomputeMartsSql(gold);
  return {
    async beforeMerge(tx: MergeHookContext) {
      // Before reading any group: a concurrent flush's groups are then committed and visible.
      await tx.query('select pg_advisory_xact_lock(hashtext($1))', [martLockKey(gold)]);
      await tx.query(TOUCHED_TABLES_SQL);
      await tx.query(touchedGroupsSql(gold, source, tx.stage, tx.table));
    },
    async afterMerge(tx: MergeHookContext) {
      await tx.query(recompute);
    },
  };
}

/**
 * The medallion's tables with the marts attached: each mart source's sink gets the mart hooks,
 * and a setup that creates every mart source table (a hook reads all three, whichever sink
 * connects first), the fact indexes and the marts.
 *
 * @example const tables = withMarts(tablesOfTheModel, 'gold');
 */
export function withMarts(tables: WarehouseTable[], gold: string): WarehouseTable[] {
  const sources = tables.filter(
    (t) => t.layer === 'gold' && (MART_SOURCES as readonly string[]).includes(t.sink.table!),
  );
  const sourcesSql = sources.flatMap((t) => {
    const cfg = parseWarehouseSinkConfig(t.sink);
    return createTableSql(tablePlanOf(cfg, cfg.avroSchema as { [k: string]: unknown }));
  });
  const setup = [...sourcesSql, ...factIndexesSql(gold), ...martTablesSql(gold)];
  return tables.map((t) =>
    sources.includes(t)
      ? {
          ...t,
          sink: {
            ...t.sink,
            setupSql: [...(t.sink.setupSql ?? []), ...setup],
            mergeHooks: martHooks(gold, t.sink.table as MartSource),
          },
        }
      : t,
  );
}
