import type { Customer, Order, OrderItem, Product } from '../domain/types.generated.ts';
import type { AvroRecordSchema, WarehouseSinkOptions } from '../../connectors/postgres/warehouse/config.ts';
import { quoteIdent, sqlLiteral } from '../../connectors/postgres/warehouse/sqlQuote.ts';
import { withMarts } from './warehouseMarts.ts';

/**
 * The medallion in the warehouse: what each table is, how it is keyed and merged, and the pure
 * transforms that shape gold rows from silver records.
 *
 * - `bronze.<entity>`: every silver event, appended (lineage columns `_topic/_partition/_offset`).
 * - `silver.<entity>`: the current state per key (the newer `updated_at` wins).
 * - `gold.fact_orders` (order grain), `gold.fact_order_items` (line grain): upsert by key.
 * - `gold.dim_customers`: SCD type 2 (customer_sk, customer_key, valid_from, valid_to, is_current).
 * - `gold.dim_products`: type 1 (current values).
 * - `gold.dim_date`: a generated calendar, 2020–2030, keyed by yyyymmdd.
 * - `gold.mart_*`: marts kept equal to SQL over the facts, in the facts' transaction (`warehouseMarts.ts`).
 *
 * Deletes (change data capture: op `d` with the last row image) are history in bronze; they
 * delete the silver row and the fact row (when not older than the row: the newer one wins, as for
 * updates), close the customer's current SCD2 version, and mark the product inactive
 * (`deleted_at`), so facts that name it keep their category.
 *
 * Facts carry durable keys (`customer_key` = the OLTP customer_id, `product_key` = product_id):
 * they do not depend on which dimension version happened to be loaded first, so replays and
 * late dimensions give the same rows. The customer version in force for an order is
 * `dim_customers` on `customer_key` with `ordered_at` in `[valid_from, valid_to)`.
 */

export type Layer = 'bronze' | 'silver' | 'gold';

/** Postgres schema names of the three layers; a prefix isolates tests (`it_x` → `it_x_gold`). */
export function layerSchemas(schemaPrefix = ''): Record<Layer, string> {
  const p = schemaPrefix ? `${schemaPrefix}_` : '';
  return { bronze: `${p}bronze`, silver: `${p}silver`, gold: `${p}gold` };
}

/** The silver topics the warehouse reads, with their entity key. */
export const WAREHOUSE_ENTITIES = [
  { entity: 'customers', topic: 'silver.customers', key: 'customer_id' },
  { entity: 'products', topic: 'silver.products', key: 'product_id' },
  { entity: 'orders', topic: 'silver.orders', key: 'order_id' },
  { entity: 'order_items', topic: 'silver.order_items', key: 'order_item_id' },
] as const;

export type WarehouseEntity = (typeof WAREHOUSE_ENTITIES)[number];

const TS = { type: 'long', logicalType: 'timestamp-millis' };
const MONEY = { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 };

// ---- gold table schemas (Avro records: the sink creates the tables from them, docs → comments)

export const FACT_ORDERS_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'FactOrder',
  namespace: 'sluice.warehouse.gold',
  doc:
    'Orders fact, one row per order (its latest state). Join dim_customers on customer_key (the version in force: ' +
    "ordered_at in [valid_from, valid_to); today's: is_current), dim_date on date_key.",
  fields: [
    { name: 'order_id', type: 'long', doc: 'Order number: the grain and primary key (degenerate dimension).' },
    {
      name: 'customer_key',
      type: 'long',
      doc: 'Durable customer key (the OLTP customer_id); joins gold.dim_customers.customer_key.',
    },
    { name: 'date_key', type: 'int', doc: 'Order date (UTC) as yyyymmdd; joins gold.dim_date.date_key.' },
    { name: 'status', type: 'string', doc: 'Order status: pending, paid, shipped, delivered, cancelled, refunded.' },
    { name: 'total_amount', type: MONEY, doc: 'Order total in the order currency, numeric(12,2).' },
    { name: 'currency', type: 'string', doc: 'ISO 4217 currency code of total_amount.' },
    { name: 'ordered_at', type: TS, doc: 'When the order was placed.' },
    { name: 'updated_at', type: TS, doc: 'Last change of the source order row (the newer one wins).' },
  ],
};

export const FACT_ORDER_ITEMS_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'FactOrderItem',
  namespace: 'sluice.warehouse.gold',
  doc:
    'Order lines fact, one row per order line (its latest state). Join dim_products on product_key, ' +
    'fact_orders on order_id.',
  fields: [
    { name: 'order_item_id', type: 'long', doc: 'Order line id: the grain and primary key.' },
    { name: 'order_id', type: 'long', doc: 'Order the line belongs to; joins gold.fact_orders.order_id.' },
    {
      name: 'product_key',
      type: 'long',
      doc: 'Product key (the OLTP product_id); joins gold.dim_products.product_key.',
    },
    { name: 'quantity', type: 'int', doc: 'Units ordered.' },
    { name: 'unit_price', type: MONEY, doc: 'Price of one unit at order time, numeric(12,2).' },
    {
      name: 'line_amount',
      type: { type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 },
      doc: 'quantity × unit_price, numeric(18,2), computed exactly (no floating point).',
    },
    { name: 'updated_at', type: TS, doc: 'Last change of the source order line (the newer one wins).' },
  ],
};

export const DIM_CUSTOMERS_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'DimCustomer',
  namespace: 'sluice.warehouse.gold',
  doc:
    'Customer dimension, SCD type 2: one row per version of a customer. A change of email, full_name or country ' +
    'closes the current version (valid_to, is_current = false) and opens a new one.',
  fields: [
    {
      name: 'customer_key',
      type: 'long',
      doc: 'Durable (natural) customer key: the OLTP customer_id, the same in every version.',
    },
    {
      name: 'email',
      type: ['null', 'string'],
      default: null,
      'sluice.pii': 'email',
      doc: 'Contact email of this version (tracked), masked as silver.customers is.',
    },
    { name: 'full_name', type: 'string', 'sluice.pii': 'name', doc: 'Full name of this version (tracked).' },
    { name: 'country', type: 'string', doc: 'Country of this version, ISO 3166-1 alpha-2 (tracked).' },
    { name: 'created_at', type: TS, doc: 'When the customer was created in the shop.' },
  ],
};

export const DIM_PRODUCTS_SCHEMA: AvroRecordSchema = {
  type: 'record',
  name: 'DimProduct',
  namespace: 'sluice.warehouse.gold',
  doc: 'Product dimension, type 1: the current values of each product.',
  fields: [
    { name: 'product_key', type: 'long', doc: 'Product key: the OLTP product_id.' },
    { name: 'sku', type: 'string', doc: 'Stock keeping unit.' },
    { name: 'name', type: 'string', doc: 'Display name.' },
    { name: 'category', type: 'string', doc: 'Catalog category.' },
    { name: 'price', type: MONEY, doc: 'Current list price, numeric(12,2).' },
    { name: 'active', type: 'boolean', doc: 'Whether the product is for sale (false once deleted).' },
    { name: 'created_at', type: TS, doc: 'When the product was created.' },
    { name: 'updated_at', type: TS, doc: 'Last change of the source product row (the newer one wins).' },
    {
      name: 'deleted_at',
      type: ['null', TS],
      default: null,
      doc: 'When the product was deleted in the shop (captured); null while it exists. The row stays for the facts.',
    },
  ],
};

// ---- transforms (pure; each gold row keeps the silver fields, so the engine's output check
// against the silver schema holds, and adds the gold ones the table picks by name)

/** Calendar day (UTC) of an epoch-ms instant as the integer yyyymmdd. */
export function dateKeyOf(epochMs: number): number {
  const d = new Date(epochMs);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a timestamp: ${epochMs}`);
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** quantity × a decimal string, exactly (BigInt), with `scale` fractional digits: 3 × "12.35" = "37.05". */
export function multiplyDecimal(quantity: number, price: string, scale = 2): string {
  if (!Number.isSafeInteger(quantity)) throw new RangeError(`quantity is not an integer: ${quantity}`);
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(price);
  if (!m) throw new RangeError(`not a decimal: ${JSON.stringify(price)}`);
  const [, sign, int, frac = ''] = m;
  if (frac.length > scale) throw new RangeError(`${price} has more than ${scale} fractional digits`);
  let unscaled = BigInt(int + frac.padEnd(scale, '0')) * BigInt(quantity);
  if (sign) unscaled = -unscaled;
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${body}` : body;
}

export type FactOrderRow = Order & { customer_key: number; date_key: number };
export type FactOrderItemRow = OrderItem & { product_key: number; line_amount: string };
export type DimCustomerRow = Customer & { customer_key: number };
export type DimProductRow = Product & { product_key: number; deleted_at: number | null };

/** The record is a change data capture delete (op `d`, the last row image). */
export const DELETE_OP = { field: 'op', equals: 'd' } as const;

export function toFactOrder(o: Order): FactOrderRow {
  return { ...o, customer_key: o.customer_id, date_key: dateKeyOf(o.ordered_at) };
}

export function toFactOrderItem(i: OrderItem): FactOrderItemRow {
  return { ...i, product_key: i.product_id, line_amount: multiplyDecimal(i.quantity, i.unit_price) };
}

/** A delete's image carries the last update's updated_at; the version it closes ends when it was captured. */
export function toDimCustomer(c: Customer): DimCustomerRow {
  const row = { ...c, customer_key: c.customer_id };
  return c.op === 'd' ? { ...row, updated_at: Math.max(c.updated_at, c.extracted_at) } : row;
}

/** A deleted product stays (facts name it), inactive and stamped with when the delete was captured. */
export function toDimProduct(p: Product): DimProductRow {
  const deleted = p.op === 'd';
  return {
    ...p,
    product_key: p.product_id,
    active: deleted ? false : p.active,
    deleted_at: deleted ? p.extracted_at : null,
  };
}

// ---- dim_date

/** `gold.dim_date`: one row per day of `fromYear`–`toYear`, created and filled idempotently. */
export function dimDateSql(schema: string, fromYear = 2020, toYear = 2030): string[] {
  const t = `${quoteIdent(schema)}."dim_date"`;
  const span = `${fromYear}-01-01 to ${toYear}-12-31`;
  const comments: [string, string][] = [
    ['date_key', 'Day as the integer yyyymmdd: the key facts join on.'],
    ['full_date', 'The calendar day.'],
    ['day', 'Day of the month, 1–31.'],
    ['day_of_week', 'ISO day of the week, 1 = Monday … 7 = Sunday.'],
    ['weekday_name', 'English weekday name (Monday … Sunday).'],
    ['is_weekend', 'Saturday or Sunday.'],
    ['week', 'ISO 8601 week number, 1–53 (belongs to iso_year).'],
    ['iso_year', 'ISO 8601 week-numbering year of week.'],
    ['month', 'Month, 1–12.'],
    ['month_name', 'English month name.'],
    ['quarter', 'Quarter, 1–4.'],
    ['year', 'Calendar year.'],
    ['day_of_year', 'Day of the year, 1–366.'],
  ];
  return [
    `create table if not exists ${t} (
  date_key integer primary key,
  full_date date not null unique,
  day smallint not null,
  day_of_week smallint not null,
  weekday_name text not null,
  is_weekend boolean not null,
  week smallint not null,
  iso_year smallint not null,
  month smallint not null,
  month_name text not null,
  quarter smallint not null,
  year smallint not null,
  day_of_year smallint not null
)`,
    `insert into ${t} (date_key, full_date, day, day_of_week, weekday_name, is_weekend, week, iso_year, month,` +
      ` month_name, quarter, year, day_of_year)
select to_char(d, 'YYYYMMDD')::int, d::date, extract(day from d)::smallint, extract(isodow from d)::smallint,
       to_char(d, 'FMDay'), extract(isodow from d) in (6, 7), extract(week from d)::smallint,` +
      ` extract(isoyear from d)::smallint,
       extract(month from d)::smallint, to_char(d, 'FMMonth'), extract(quarter from d)::smallint,` +
      ` extract(year from d)::smallint,
       extract(doy from d)::smallint
  from generate_series(date '${fromYear}-01-01', date '${toYear}-12-31', interval '1 day') as d
on conflict (date_key) do nothing`,
    `comment on table ${t} is ${sqlLiteral(`Date dimension: one row per calendar day from ${span}.`)}`,
    ...comments.map(([c, doc]) => `comment on column ${t}.${quoteIdent(c)} is ${sqlLiteral(doc)}`),
  ];
}

// ---- the tables and how each is fed

/** Sink settings a caller may override for every table (tests, benchmarks, tuning). */
export type WarehouseSinkOverrides = Pick<
  WarehouseSinkOptions,
  | 'batchRecords'
  | 'lingerMs'
  | 'copyChunkBytes'
  | 'database'
  | 'connection'
  | 'retries'
  | 'retryInitialMs'
  | 'retryMaxMs'
  | 'flushLanes'
  | 'poolSize'
  | 'pauseBeforeCommitMs'
  | 'onPauseBeforeCommit'
>;

export interface WarehouseTable {
  layer: Layer;
  /** The topology output (sink output name), e.g. `warehouse.gold.fact_orders`. */
  output: string;
  /** The silver topic it is fed from (also the output's schema). */
  source: WarehouseEntity['topic'];
  /** The pure transform shaping the row (`mapValue`), none for bronze and silver. */
  transform?: { name: string; fn: (value: any) => unknown };
  sink: WarehouseSinkOptions;
}

/** Every warehouse table, in load order per entity: bronze, silver, gold. */
export function medallionTables(opts: { schemaPrefix?: string; sink?: WarehouseSinkOverrides } = {}): WarehouseTable[] {
  const s = layerSchemas(opts.schemaPrefix);
  // One transaction group: every flush commits all tables and their offsets together, so after a
  // crash no table is ahead of another (the runner resumes each topic from one position).
  const o: Partial<WarehouseSinkOptions> = { ...opts.sink, transactionGroup: 'medallion' };
  const tables = [
    ...WAREHOUSE_ENTITIES.flatMap((e) => bronzeAndSilverTables(e, s, o)),
    ...goldDimensionTables(s, o),
    ...goldFactTables(s, o),
  ];
  return withMarts(tables, s.gold);
}

/** An entity's bronze table (every event, appended) and silver table (its current state per key). */
function bronzeAndSilverTables(
  e: WarehouseEntity,
  s: Record<Layer, string>,
  o: Partial<WarehouseSinkOptions>,
): WarehouseTable[] {
  return [
    {
      layer: 'bronze',
      output: `warehouse.bronze.${e.entity}`,
      source: e.topic,
      sink: {
        ...o,
        avroSchema: e.topic,
        schema: s.bronze,
        table: e.entity,
        mode: 'append',
        tableComment:
          `Bronze: every ${e.topic} event as it arrived, appended;` +
          ' (_topic, _partition, _offset) identifies the Kafka record.',
      },
    },
    {
      layer: 'silver',
      output: `warehouse.silver.${e.entity}`,
      source: e.topic,
      sink: {
        ...o,
        avroSchema: e.topic,
        schema: s.silver,
        table: e.entity,
        mode: 'upsert',
        keyColumns: [e.key],
        orderingColumn: 'updated_at',
        deleteWhen: DELETE_OP,
        tableComment: `Silver: current state of each ${e.entity.replace(/s$/, '')} (latest updated_at per ${e.key}).`,
      },
    },
  ];
}

/** `gold.dim_customers` (SCD type 2) and `gold.dim_products` (type 1). */
function goldDimensionTables(s: Record<Layer, string>, o: Partial<WarehouseSinkOptions>): WarehouseTable[] {
  return [
    {
      layer: 'gold',
      output: 'warehouse.gold.dim_customers',
      source: 'silver.customers',
      transform: { name: 'toDimCustomer', fn: toDimCustomer },
      sink: {
        ...o,
        avroSchema: DIM_CUSTOMERS_SCHEMA,
        schema: s.gold,
        table: 'dim_customers',
        mode: 'scd2',
        keyColumns: ['customer_key'],
        trackedColumns: ['email', 'full_name', 'country'],
        orderingColumn: 'updated_at',
        deleteWhen: DELETE_OP,
        surrogateKeyColumn: 'customer_sk',
      },
    },
    {
      layer: 'gold',
      output: 'warehouse.gold.dim_products',
      source: 'silver.products',
      transform: { name: 'toDimProduct', fn: toDimProduct },
      sink: {
        ...o,
        avroSchema: DIM_PRODUCTS_SCHEMA,
        schema: s.gold,
        table: 'dim_products',
        mode: 'upsert',
        keyColumns: ['product_key'],
        orderingColumn: 'updated_at',
      },
    },
  ];
}

/** `gold.fact_orders` (its setup creates `gold.dim_date`) and `gold.fact_order_items`, upserted by key. */
function goldFactTables(s: Record<Layer, string>, o: Partial<WarehouseSinkOptions>): WarehouseTable[] {
  return [
    {
      layer: 'gold',
      output: 'warehouse.gold.fact_orders',
      source: 'silver.orders',
      transform: { name: 'toFactOrder', fn: toFactOrder },
      sink: {
        ...o,
        avroSchema: FACT_ORDERS_SCHEMA,
        schema: s.gold,
        table: 'fact_orders',
        mode: 'upsert',
        keyColumns: ['order_id'],
        orderingColumn: 'updated_at',
        deleteWhen: DELETE_OP,
        setupSql: dimDateSql(s.gold),
      },
    },
    {
      layer: 'gold',
      output: 'warehouse.gold.fact_order_items',
      source: 'silver.order_items',
      transform: { name: 'toFactOrderItem', fn: toFactOrderItem },
      sink: {
        ...o,
        avroSchema: FACT_ORDER_ITEMS_SCHEMA,
        schema: s.gold,
        table: 'fact_order_items',
        mode: 'upsert',
        keyColumns: ['order_item_id'],
        orderingColumn: 'updated_at',
        deleteWhen: DELETE_OP,
      },
    },
  ];
}
