import type pg from 'pg';
import { tablePlanOf } from '../../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig } from '../../connectors/postgres/warehouse/config.ts';
import { createTableSql } from '../../connectors/postgres/warehouse/ddl.ts';
import { loadSchema } from '../../src/domain/schemas.ts';
import { medallionTables } from '../../src/shop/warehouseModel.ts';

/**
 * A small warehouse for the warehouse test integration tests (`sluice check`, the schedule in
 * `sluice run`): the silver and gold tables under a schema prefix, and rows every test passes on.
 */

/** The silver and gold tables exactly as the warehouse sink creates them (dim_date filled), under a prefix. */
export async function createWarehouse(client: pg.Client, schemaPrefix: string): Promise<void> {
  for (const t of medallionTables({ schemaPrefix })) {
    if (t.layer === 'bronze') continue;
    const cfg = parseWarehouseSinkConfig(t.sink);
    const schema = typeof cfg.avroSchema === 'string' ? loadSchema(cfg.avroSchema) : cfg.avroSchema;
    for (const sql of createTableSql(tablePlanOf(cfg, schema as unknown as { [k: string]: unknown })))
      await client.query(sql);
    for (const sql of cfg.setupSql) await client.query(sql);
  }
}

/** A consistent little star: two customers, two products, two orders with a line each. */
export async function loadRows(client: pg.Client, s: { silver: string; gold: string }): Promise<void> {
  const ts = "timestamptz '2026-12-01 10:00:00+00'";
  await client.query(
    `insert into "${s.silver}".orders (order_id, customer_id, status, total_amount, currency, ordered_at, updated_at,
       op, extracted_at) values (100, 1, 'paid', 10.00, 'EUR', ${ts}, ${ts}, 'c', ${ts}),
       (101, 2, 'delivered', 20.00, 'EUR', ${ts}, ${ts}, 'c', ${ts})`,
  );
  await client.query(
    `insert into "${s.gold}".dim_customers (customer_key, email, full_name, country, created_at, valid_from)
     values (1, 'a@example.com', 'A', 'DE', ${ts}, ${ts}), (2, null, 'B', 'FR', ${ts}, ${ts})`,
  );
  // An earlier, closed version of customer 1: customer_key repeats, but once among the current versions.
  await client.query(
    `insert into "${s.gold}".dim_customers (customer_key, email, full_name, country, created_at, valid_from,
       valid_to, is_current) values (1, 'old@example.com', 'A', 'DE', ${ts}, ${ts} - interval '1 day', ${ts}, false)`,
  );
  await client.query(
    `insert into "${s.gold}".dim_products (product_key, sku, name, category, price, active, created_at, updated_at)
     values (10, 'S10', 'Ten', 'c', 5.00, true, ${ts}, ${ts}), (11, 'S11', 'Eleven', 'c', 10.00, true, ${ts}, ${ts})`,
  );
  await client.query(
    `insert into "${s.gold}".fact_orders (order_id, customer_key, date_key, status, total_amount, currency,
       ordered_at, updated_at) values (100, 1, 20261201, 'paid', 10.00, 'EUR', ${ts}, ${ts}),
       (101, 2, 20261201, 'delivered', 20.00, 'EUR', ${ts}, ${ts})`,
  );
  await client.query(
    `insert into "${s.gold}".fact_order_items (order_item_id, order_id, product_key, quantity, unit_price,
       line_amount, updated_at) values (1000, 100, 10, 2, 5.00, 10.00, ${ts}), (1001, 101, 11, 2, 10.00, 20.00, ${ts})`,
  );
}
