/**
 * What each gold mart is: its columns with their Postgres types and docs, its key, and the gold
 * tables it is computed from. One declaration for the DDL (`warehouseMarts.ts`), the catalog and
 * the MCP server's resources, so a column's doc is written once.
 */

/** Order statuses that are not sales: their orders are in no mart. */
export const EXCLUDED_STATUSES = ['cancelled', 'refunded'] as const;

/** Category of a line whose product is not in `dim_products` (yet). */
export const UNKNOWN_CATEGORY = 'unknown';

/** The tables the marts are computed from; their sinks carry the mart hooks. */
export const MART_SOURCES = ['fact_orders', 'fact_order_items', 'dim_products'] as const;
export type MartSource = (typeof MART_SOURCES)[number];

export interface MartColumn {
  name: string;
  /** Postgres type; every mart column is `not null`. */
  type: string;
  doc: string;
}

export interface MartDefinition {
  table: 'mart_revenue_daily' | 'mart_customers' | 'mart_products';
  doc: string;
  columns: readonly MartColumn[];
  primaryKey: readonly string[];
  /** The gold tables its rows are computed from. */
  from: readonly MartSource[];
}

const RULE = `Orders with status ${EXCLUDED_STATUSES.join(' or ')} are excluded.`;
const MONEY = 'numeric(14,2)';

export const MART_DEFINITIONS: readonly MartDefinition[] = [
  {
    table: 'mart_revenue_daily',
    doc: `Gold mart: revenue per UTC day of ordered_at and product category. ${RULE} Maintained with the facts.`,
    columns: [
      { name: 'order_date', type: 'date', doc: 'UTC calendar day of the orders (fact_orders.ordered_at).' },
      {
        name: 'category',
        type: 'text',
        doc: `Current product category (dim_products); '${UNKNOWN_CATEGORY}' until the product is loaded.`,
      },
      { name: 'revenue', type: MONEY, doc: 'Sum of line_amount of the lines of this category on this day.' },
      { name: 'orders', type: 'bigint', doc: 'Distinct orders with at least one line of this category on this day.' },
      { name: 'avg_order_value', type: MONEY, doc: 'revenue / orders, rounded to cents.' },
    ],
    primaryKey: ['order_date', 'category'],
    from: ['fact_orders', 'fact_order_items', 'dim_products'],
  },
  {
    table: 'mart_customers',
    doc: `Gold mart: one row per customer with at least one order. ${RULE} Maintained with the facts.`,
    columns: [
      { name: 'customer_key', type: 'bigint', doc: 'Durable customer key; joins gold.dim_customers.customer_key.' },
      { name: 'first_order_at', type: 'timestamptz', doc: 'When the first order was placed.' },
      { name: 'last_order_at', type: 'timestamptz', doc: 'When the last order was placed.' },
      { name: 'orders', type: 'bigint', doc: 'Number of orders.' },
      { name: 'lifetime_value', type: MONEY, doc: 'Sum of the orders\u2019 total_amount.' },
      { name: 'cohort_month', type: 'date', doc: 'First day of the UTC month of the first order.' },
    ],
    primaryKey: ['customer_key'],
    from: ['fact_orders'],
  },
  {
    table: 'mart_products',
    doc: `Gold mart: units and revenue per product, ranked. ${RULE} Maintained with the facts.`,
    columns: [
      { name: 'product_key', type: 'bigint', doc: 'Product key; joins gold.dim_products.product_key.' },
      { name: 'units', type: 'bigint', doc: 'Units sold (sum of quantity).' },
      { name: 'revenue', type: MONEY, doc: 'Sum of line_amount.' },
      {
        name: 'revenue_rank',
        type: 'integer',
        doc: 'Rank by revenue, 1 = highest (ties share a rank, as SQL rank()).',
      },
    ],
    primaryKey: ['product_key'],
    from: ['fact_orders', 'fact_order_items'],
  },
];

/** The column every mart carries besides its own. */
export const MART_LOADED_AT: MartColumn = {
  name: '_loaded_at',
  type: 'timestamptz',
  doc: 'When the transaction that last changed this row started.',
};
