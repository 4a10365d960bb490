import { ORDER_STATUSES } from './oltp/oltpDdl.ts';
import { MART_TESTS } from './warehouseMarts.ts';
import type { Layer } from './warehouseModel.ts';

/**
 * Warehouse tests, declared beside the model (`warehouseModel.ts`): dbt's built-in kinds.
 *
 * - `unique`: no non-null value of the column occurs twice (optionally among the rows `where` selects).
 * - `not_null`: no row has a null in the column.
 * - `relationships`: every non-null value has a row in the referenced table (`to`).
 * - `accepted_values`: every non-null value is one of `values`.
 * - `freshness`: the newest value of a timestamp column is at most `warnAfterMs` old (else warn)
 *   and at most `errorAfterMs` old (else fail); an empty table fails.
 *
 * `sluice check` runs them (`src/quality/runWarehouseTests.ts`). A test with `severity: 'warn'`
 * reports its failures as a warning. Tables are named by layer, so a schema prefix moves them all.
 */

export type WarehouseTestKind = 'unique' | 'not_null' | 'relationships' | 'accepted_values' | 'freshness';

export interface TableRef {
  layer: Layer;
  table: string;
}

interface TestBase extends TableRef {
  column: string;
  /** `warn`: failures make the test warn instead of fail (dbt's severity). Default `error`. */
  severity?: 'error' | 'warn';
}

export type WarehouseTest =
  | (TestBase & {
      kind: 'unique';
      /** Only the rows where this column equals this value (e.g. the current SCD2 versions). */
      where?: { column: string; equals: string | number | boolean };
    })
  | (TestBase & {
      kind: 'not_null';
      /** The column naming a failing row in the examples (default: none when `column` is the key). */
      rowKey?: string;
    })
  | (TestBase & { kind: 'relationships'; to: TableRef & { column: string } })
  | (TestBase & { kind: 'accepted_values'; values: readonly string[] })
  | (TestBase & { kind: 'freshness'; warnAfterMs: number; errorAfterMs: number });

const HOUR_MS = 3_600_000;

/** `unique` + `not_null` on a table's primary key. */
function primaryKey(layer: Layer, table: string, column: string): WarehouseTest[] {
  return [
    { kind: 'unique', layer, table, column },
    { kind: 'not_null', layer, table, column },
  ];
}

/** `not_null` on a column that is not the key: examples name the rows by `rowKey`. */
function required(layer: Layer, table: string, column: string, rowKey: string): WarehouseTest {
  return { kind: 'not_null', layer, table, column, rowKey };
}

function relationship(table: string, column: string, toTable: string, toColumn = column): WarehouseTest {
  return {
    kind: 'relationships',
    layer: 'gold',
    table,
    column,
    to: { layer: 'gold', table: toTable, column: toColumn },
  };
}

/** The tests of the silver tables: keys and the order status. */
export const SILVER_TESTS: readonly WarehouseTest[] = [
  ...primaryKey('silver', 'customers', 'customer_id'),
  ...primaryKey('silver', 'products', 'product_id'),
  ...primaryKey('silver', 'orders', 'order_id'),
  ...primaryKey('silver', 'order_items', 'order_item_id'),
  { kind: 'accepted_values', layer: 'silver', table: 'orders', column: 'status', values: ORDER_STATUSES },
];

/** The tests of the gold star: keys, the facts' foreign keys, the order status, load freshness. */
export const GOLD_TESTS: readonly WarehouseTest[] = [
  ...primaryKey('gold', 'dim_customers', 'customer_sk'),
  // SCD type 2: a customer has many versions, but one current one.
  {
    kind: 'unique',
    layer: 'gold',
    table: 'dim_customers',
    column: 'customer_key',
    where: { column: 'is_current', equals: true },
  },
  required('gold', 'dim_customers', 'customer_key', 'customer_sk'),
  ...primaryKey('gold', 'dim_products', 'product_key'),
  ...primaryKey('gold', 'dim_date', 'date_key'),
  ...primaryKey('gold', 'fact_orders', 'order_id'),
  required('gold', 'fact_orders', 'customer_key', 'order_id'),
  required('gold', 'fact_orders', 'date_key', 'order_id'),
  relationship('fact_orders', 'customer_key', 'dim_customers'),
  relationship('fact_orders', 'date_key', 'dim_date'),
  { kind: 'accepted_values', layer: 'gold', table: 'fact_orders', column: 'status', values: ORDER_STATUSES },
  ...primaryKey('gold', 'fact_order_items', 'order_item_id'),
  required('gold', 'fact_order_items', 'order_id', 'order_item_id'),
  required('gold', 'fact_order_items', 'product_key', 'order_item_id'),
  relationship('fact_order_items', 'order_id', 'fact_orders'),
  relationship('fact_order_items', 'product_key', 'dim_products'),
  // The runner extracts every hour by default: two missed loads warn, a day without one fails.
  {
    kind: 'freshness',
    layer: 'gold',
    table: 'fact_orders',
    column: '_loaded_at',
    warnAfterMs: 2 * HOUR_MS,
    errorAfterMs: 24 * HOUR_MS,
  },
];

/** Every warehouse test, silver first, the marts' last (declared beside them, `warehouseMarts.ts`). */
export const WAREHOUSE_TESTS: readonly WarehouseTest[] = [...SILVER_TESTS, ...GOLD_TESTS, ...MART_TESTS];

/**
 * The test's stable name: kind, table and column, and for a relationship the column it references.
 *
 * @example testName(relationship) // 'relationships gold.fact_order_items.product_key -> gold.dim_products.product_key'
 */
export function testName(t: WarehouseTest): string {
  const base = `${t.kind} ${t.layer}.${t.table}.${t.column}`;
  if (t.kind === 'relationships') return `${base} -> ${t.to.layer}.${t.to.table}.${t.to.column}`;
  if (t.kind === 'unique' && t.where) return `${base} where ${t.where.column} = ${String(t.where.equals)}`;
  return base;
}
