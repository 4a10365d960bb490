import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { formatLsn } from '../../../connectors/postgres/cdc/lsn.ts';
import { OFFSETS_SCHEMA, OFFSETS_TABLE } from '../../../connectors/postgres/warehouse/storedOffsets.ts';
import { pgConnection } from '../../../src/config/config.ts';
import { runWarehouseTests } from '../../../src/quality/runWarehouseTests.ts';
import { OLTP_TABLES } from '../../../src/shop/oltp/oltpTables.ts';
import { layerSchemas } from '../../../src/shop/warehouseModel.ts';
import { topicCount } from '../../support/kafkaHelpers.ts';
import { eventually } from '../../support/stack.ts';
import { assertMartsMatchFacts } from '../warehouse/martsOverFacts.ts';
import { type CdcEvent, type CdcFixture, withCdcFixture } from './cdcFixture.ts';

/**
 * Issue 15's end-to-end proof: change data capture mirrors every committed insert, update and
 * delete of an OLTP database into the oltp topics and the warehouse, with no loss across a SIGKILL
 * of the process running the source, the silver topologies and the warehouse. The warehouse then
 * equals the database row for row: silver tables, gold facts, the current dimension rows; deleted
 * rows are absent from silver and the facts, a deleted customer's SCD2 version is closed.
 */

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cdcWarehouseChild.ts');
/** Small produce rounds: many confirmations, so the kill lands inside the big transaction. */
const BATCH_RECORDS = 20;

async function startChild(args: object): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // PII kept in silver and the warehouse, so every column compares exactly with the database.
    env: { ...process.env, SLUICE_PII_SILVER: 'keep', SLUICE_PII_WAREHOUSE: 'keep', SLUICE_LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += String(d);
  });
  await eventually(async () => out.includes('ready') || child.exitCode !== null, 'the pipeline child ready', 120_000);
  assert.equal(child.exitCode, null, 'the pipeline child exited before it was ready');
  return child;
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** The slot no longer held: a stopped client's walsender takes a moment to notice (its confirmed LSN is then final). */
async function slotReleased(f: CdcFixture, by: string): Promise<void> {
  const active = async () =>
    (await f.sql('select active from pg_replication_slots where slot_name = $1', [f.slot]))[0].active as boolean;
  await eventually(async () => !(await active()), `${by} to release the slot`, 90_000);
}

/** Counts of what a workload step changed, by operation. */
interface Applied {
  c: number;
  u: number;
  d: number;
}

/** Runs the statements as one transaction and adds the rows each changed to `applied`. */
async function tx(f: CdcFixture, applied: Applied, ...statements: string[]): Promise<void> {
  await f.client.query('begin');
  try {
    for (const s of statements) {
      const r = await f.client.query(s);
      const verb = s.trim().slice(0, 6).toLowerCase();
      applied[verb === 'insert' ? 'c' : verb === 'update' ? 'u' : 'd'] += r.rowCount ?? 0;
    }
    await f.client.query('commit');
  } catch (err) {
    await f.client.query('rollback');
    throw err;
  }
}

/** Epoch milliseconds as text: the topics carry timestamps truncated to the millisecond. */
const ms = (c: string) => `floor(extract(epoch from ${c}) * 1000)::bigint::text as ${c}`;
const SILVER_COLUMNS: Record<string, string[]> = {
  customers: ['customer_id::text', 'email', 'full_name', 'country', ms('created_at'), ms('updated_at')],
  products: [
    'product_id::text',
    'sku',
    'name',
    'category',
    'price::text',
    'active::text',
    ms('created_at'),
    ms('updated_at'),
  ],
  orders: [
    'order_id::text',
    'customer_id::text',
    'status',
    'total_amount::text',
    'currency',
    ms('ordered_at'),
    ms('updated_at'),
  ],
  order_items: [
    'order_item_id::text',
    'order_id::text',
    'product_id::text',
    'quantity::text',
    'unit_price::text',
    ms('updated_at'),
  ],
};

/** Each comparison: what the database says (expected) and the warehouse holds (actual), the key first. */
function comparisons(s: ReturnType<typeof layerSchemas>): Record<string, { oltp: string; warehouse: string }> {
  const out: Record<string, { oltp: string; warehouse: string }> = {};
  for (const [table, cols] of Object.entries(SILVER_COLUMNS)) {
    out[`silver.${table}`] = {
      oltp: `select ${cols.join(', ')} from ${table}`,
      warehouse: `select ${cols.join(', ')} from "${s.silver}".${table}`,
    };
  }
  const day = `to_char(ordered_at at time zone 'UTC', 'YYYYMMDD')`;
  out['gold.fact_orders'] = {
    oltp: `select order_id::text, customer_id::text as customer_key, ${day} as date_key, status, total_amount::text,
      currency, ${ms('ordered_at')}, ${ms('updated_at')} from orders`,
    warehouse: `select order_id::text, customer_key::text, date_key::text, status, total_amount::text, currency,
      ${ms('ordered_at')}, ${ms('updated_at')} from "${s.gold}".fact_orders`,
  };
  out['gold.fact_order_items'] = {
    oltp: `select order_item_id::text, order_id::text, product_id::text as product_key, quantity::text,
      unit_price::text, (quantity * unit_price)::numeric(18,2)::text as line_amount, ${ms('updated_at')}
      from order_items`,
    warehouse: `select order_item_id::text, order_id::text, product_key::text, quantity::text, unit_price::text,
      line_amount::text, ${ms('updated_at')} from "${s.gold}".fact_order_items`,
  };
  out['gold.dim_customers (current versions)'] = {
    oltp: `select customer_id::text as customer_key, email, full_name, country, ${ms('created_at')}
      from customers`,
    warehouse: `select customer_key::text, email, full_name, country, ${ms('created_at')}
      from "${s.gold}".dim_customers where is_current`,
  };
  out['gold.dim_products (not deleted)'] = {
    oltp: `select product_id::text as product_key, sku, name, category, price::text, active::text, ${ms('created_at')},
      ${ms('updated_at')} from products`,
    warehouse: `select product_key::text, sku, name, category, price::text, active::text, ${ms('created_at')},
      ${ms('updated_at')} from "${s.gold}".dim_products where deleted_at is null`,
  };
  return out;
}

/** Rows sorted by their first column, the key, as a number (the queries give it as text). */
function byFirstColumn(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const key = (r: Record<string, unknown>) => Number(Object.values(r)[0]);
  return rows.sort((a, b) => key(a) - key(b));
}

async function compare(f: CdcFixture, wh: pg.Client, s: ReturnType<typeof layerSchemas>) {
  const out: Record<string, { expected: unknown[]; actual: unknown[] }> = {};
  for (const [name, q] of Object.entries(comparisons(s))) {
    const expected = await f.sql(q.oltp);
    // A table the sink has not created yet is an empty warehouse, not an error.
    const actual = await wh.query(q.warehouse).then(
      (r) => r.rows,
      () => [],
    );
    out[name] = { expected: byFirstColumn(expected), actual: byFirstColumn(actual) };
  }
  return out;
}

/** The seed: read by the slot's snapshot (op r). Customers 9-12 and products 7-8 have no orders. */
async function seed(f: CdcFixture): Promise<number> {
  await f.sql(`insert into customers (customer_id, email, full_name, country)
    select g, 'c' || g || '@shop.test', 'Customer ' || g, 'DE' from generate_series(1, 12) g`);
  await f.sql(`insert into products (product_id, sku, name, category, price)
    select g, 'SKU-' || g, 'Product ' || g, case when g % 2 = 0 then 'books' else 'games' end, 10 + g
    from generate_series(1, 8) g`);
  await f.sql(`insert into orders (order_id, customer_id, status, total_amount)
    select g, (g - 1) % 8 + 1, 'pending', 0 from generate_series(1, 20) g`);
  await f.sql(`insert into order_items (order_item_id, order_id, product_id, quantity, unit_price)
    select o * 2 - k, o, (o + k) % 6 + 1, k + 1, 11 + (o + k) % 6
    from generate_series(1, 20) o, generate_series(0, 1) k`);
  await f.sql(`update orders o set total_amount = (select sum(quantity * unit_price) from order_items i
    where i.order_id = o.order_id)`);
  return 12 + 8 + 20 + 40;
}

/** Orders of the big transaction (100 onwards), 2 lines each (1000 onwards). */
const BIG_ORDERS = 1000;

/** The big multi-row transaction the kill lands in: its orders, then their lines, then 4 status changes. */
function bigTransaction(): string[] {
  const last = 100 + BIG_ORDERS - 1;
  return [
    `insert into orders (order_id, customer_id, status, total_amount)
      select g, (g - 100) % 8 + 1, 'pending', 2 * (11 + g % 6) from generate_series(100, ${last}) g`,
    `insert into order_items (order_item_id, order_id, product_id, quantity, unit_price)
      select 1000 + (o - 100) * 2 + k, o, o % 6 + 1, 1, 11 + o % 6 from generate_series(100, ${last}) o,
      generate_series(0, 1) k`,
    `update orders set status = 'delivered' where order_id between 7 and 10`,
  ];
}

/** A change's identity: a replayed record repeats its key, commit LSN, place in the commit and operation. */
const changeIdOf = (e: CdcEvent) => `${e.key}|${e.lsn}|${e.seq}|${e.value === null ? 'tombstone' : e.value.op}`;

/** How often each change was published. */
function changeIds(events: CdcEvent[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const e of events) seen.set(changeIdOf(e), (seen.get(changeIdOf(e)) ?? 0) + 1);
  return seen;
}

test('CDC into the warehouse across a SIGKILL: silver, facts and dimensions equal the database', async (t) => {
  const started = Date.now();
  await withCdcFixture(async (f) => {
    const prefix = f.input.topicPrefix!.replace(/\.oltp\.$/, '');
    const s = layerSchemas(prefix);
    const args = {
      input: { ...f.input, batchRecords: BATCH_RECORDS },
      prefix,
      schemaPrefix: prefix,
      groupPrefix: `${prefix}-cdcwh`,
    };
    const wh = new pg.Client(pgConnection(f.cfg, f.cfg.warehouseDatabase));
    await wh.connect();
    let child: ChildProcess | undefined;
    try {
      const snapshotRows = await seed(f);
      const applied: Applied = { c: 0, u: 0, d: 0 };
      child = await startChild(args);

      // Before the kill: inserts, updates (status, price, country, name), deletes of an order with its lines
      // and of a product without orders.
      await tx(
        f,
        applied,
        `insert into customers (customer_id, email, full_name, country)
        values (13, 'c13@shop.test', 'Customer 13', 'NL')`,
      );
      await tx(
        f,
        applied,
        `insert into orders (order_id, customer_id, status, total_amount) values (21, 13, 'pending', 35.00)`,
        `insert into order_items (order_item_id, order_id, product_id, quantity, unit_price)
          values (41, 21, 1, 1, 11.00), (42, 21, 2, 2, 12.00)`,
      );
      await tx(f, applied, `update orders set status = 'paid' where order_id = 1`);
      await tx(f, applied, `update products set price = 99.90 where product_id = 2`);
      await tx(f, applied, `update customers set country = 'FR' where customer_id = 2`);
      await tx(f, applied, `update orders set status = 'shipped' where order_id between 2 and 5`);
      await tx(f, applied, `delete from order_items where order_id = 6`, `delete from orders where order_id = 6`);
      await tx(
        f,
        applied,
        `update order_items set quantity = quantity + 2 where order_item_id = 3`,
        `update orders set total_amount = total_amount + 2 * (select unit_price from order_items
          where order_item_id = 3) where order_id = 2`,
      );
      await tx(f, applied, `delete from products where product_id = 8`);
      await tx(f, applied, `update customers set full_name = 'Customer Three' where customer_id = 3`);
      const afterFirst = await f.currentLsn();
      await eventually(async () => (await f.confirmedFlush()) >= afterFirst, 'the first changes confirmed', 60_000);

      // The kill: inside the big transaction, once some of its records are out (unconfirmed: its commit is not).
      const ordersBefore = await f.count('orders');
      const itemsBefore = await f.count('order_items');
      const bigInSilver = () =>
        wh.query(`select count(*)::int as n from "${s.silver}".orders where order_id >= 100`).then(
          (r) => r.rows[0].n as number,
          () => 0,
        );
      await tx(f, applied, ...bigTransaction());
      // Killed once the warehouse has some of its orders (mid-load), or else once half its lines are out:
      // either way before its last rounds, so some of its records are out and its commit is unconfirmed.
      await eventually(
        async () => (await bigInSilver()) > 0 || (await f.count('order_items')) - itemsBefore >= BIG_ORDERS,
        'the big transaction streaming',
        60_000,
      );
      await stopChild(child, 'SIGKILL');
      const outAtKill = (await f.count('orders')) - ordersBefore + (await f.count('order_items')) - itemsBefore;
      const loadedAtKill = await bigInSilver();
      await slotReleased(f, 'the killed stream');
      const confirmedAtKill = await f.confirmedFlush();

      // While the pipeline is down, then after its restart: a customer deleted, a second country change, ...
      await tx(f, applied, `delete from customers where customer_id = 9`);
      await tx(f, applied, `update orders set status = 'cancelled' where order_id = 11`);
      await tx(f, applied, `update customers set country = 'IT' where customer_id = 2`);
      child = await startChild(args);
      await tx(f, applied, `delete from order_items where order_id = 12`, `delete from orders where order_id = 12`);
      await tx(
        f,
        applied,
        `insert into customers (customer_id, email, full_name, country)
        values (14, 'c14@shop.test', 'Customer 14', 'AT')`,
      );
      await tx(
        f,
        applied,
        `insert into orders (order_id, customer_id, status, total_amount) values (22, 14, 'pending', 42.00)`,
        `insert into order_items (order_item_id, order_id, product_id, quantity, unit_price)
          values (43, 22, 4, 3, 14.00)`,
      );
      await tx(
        f,
        applied,
        `update products set price = price + 1 where product_id = 3`,
        `update products set name = 'Product One' where product_id = 1`,
      );
      await tx(f, applied, `update orders set status = 'paid' where order_id between 100 and 149`);
      await tx(f, applied, `delete from order_items where order_id = 150`, `delete from orders where order_id = 150`);
      await tx(
        f,
        applied,
        `update order_items set unit_price = unit_price + 0.5 where order_item_id = 41`,
        `update orders set total_amount = total_amount + 0.5 where order_id = 21`,
      );
      await tx(f, applied, `delete from customers where customer_id = 11`);
      await tx(f, applied, `update customers set email = 'four@shop.test' where customer_id = 4`);

      // Settled: the slot confirmed past the last write, then the warehouse equal to the database.
      const afterWrites = await f.currentLsn();
      const writesDone = Date.now();
      await eventually(async () => (await f.confirmedFlush()) >= afterWrites, 'every change confirmed', 120_000);
      const equal = async () =>
        Object.values(await compare(f, wh, s)).every((c) => JSON.stringify(c.expected) === JSON.stringify(c.actual));
      const settled = await eventually(equal, 'the warehouse to equal the database', 300_000).catch(() => false);
      // Row for row, table by table (on a timeout, the first table that differs and how).
      for (const [name, c] of Object.entries(await compare(f, wh, s))) {
        assert.ok(c.expected.length > 0, `${name}: the database has rows`);
        assert.deepEqual(c.actual, c.expected, `${name} equals the database`);
      }
      assert.ok(settled, 'settled');
      const settleMs = Date.now() - writesDone;

      // The deleted customers: their SCD2 versions closed, none current; customer 2 went DE -> FR -> IT.
      for (const id of [9, 11]) {
        const versions = (
          await wh.query(
            `select is_current, valid_to is not null as closed from "${s.gold}".dim_customers where customer_key = $1`,
            [id],
          )
        ).rows;
        assert.ok(versions.length > 0, `customer ${id} has a version in dim_customers`);
        assert.ok(!versions.some((v) => v.is_current), `deleted customer ${id} has no current version`);
        assert.ok(
          versions.every((v) => v.closed),
          `deleted customer ${id}: every version closed ${JSON.stringify(versions)}`,
        );
      }
      const countries = (
        await wh.query(
          `select country, is_current from "${s.gold}".dim_customers where customer_key = 2 order by valid_from`,
        )
      ).rows;
      assert.deepEqual(
        countries.map((v) => `${v.country}${v.is_current ? '*' : ''}`),
        ['DE', 'FR', 'IT*'],
        'customer 2: one version per country, the last current',
      );
      // The deleted product stays in dim_products (for facts that name it), inactive, with when it was deleted.
      const product8 = (
        await wh.query(`select active, deleted_at is not null as deleted from "${s.gold}".dim_products
          where product_key = 8`)
      ).rows;
      assert.deepEqual(product8, [{ active: false, deleted: true }], 'deleted product 8 in dim_products');
      // The marts equal SQL over the facts (deleted orders and lines left them), and every warehouse test passes.
      const marts = await assertMartsMatchFacts(wh, s.gold);
      const failing = (await runWarehouseTests(wh, { schemaPrefix: prefix })).filter((r) => r.status !== 'pass');
      assert.deepEqual(
        failing.map((r) => `${r.status} ${r.name} ${r.message ?? ''}`),
        [],
        'warehouse tests',
      );

      // The topics: every change published (distinct changes = snapshot + changes + a tombstone per delete);
      // the records the kill left unconfirmed were published again after the restart.
      let records = 0;
      let distinct = 0;
      let duplicates = 0;
      for (const table of OLTP_TABLES) {
        const events = await f.events(table);
        const ids = changeIds(events);
        records += events.length;
        distinct += ids.size;
        duplicates += events.length - ids.size;
        for (const e of events) {
          const id = changeIdOf(e);
          assert.ok(ids.get(id) === 1 || e.lsn >= confirmedAtKill, `published twice below the confirmed LSN: ${id}`);
        }
      }
      const changes = applied.c + applied.u + applied.d;
      assert.equal(distinct, snapshotRows + changes + applied.d, 'every committed change published, once or more');
      assert.ok(duplicates > 0, 'the kill left published records unconfirmed, published again after the restart');
      assert.ok(confirmedAtKill >= afterFirst, 'the changes before the big transaction were confirmed at the kill');

      await stopChild(child, 'SIGTERM');
      assert.equal(child.exitCode, 0, 'the pipeline child stops gracefully');
      // The slot is dropped at the end (a leftover slot pins WAL forever).
      await slotReleased(f, 'the stopped stream');
      await f.sql('select pg_drop_replication_slot($1)', [f.slot]);
      assert.deepEqual(await f.sql('select 1 from pg_replication_slots where slot_name = $1', [f.slot]), []);

      let dlq = 0;
      for (const table of OLTP_TABLES) dlq += await topicCount(f.kafka, `${f.topic(table)}.dlq`).catch(() => 0);
      t.diagnostic(
        `${snapshotRows} rows snapshotted, ${changes} changes applied (${applied.c} c, ${applied.u} u, ` +
          `${applied.d} d); ${records} records published (${distinct} distinct, ${duplicates} duplicates after ` +
          `the kill); at the kill ${outAtKill} of the big transaction's ${3 * BIG_ORDERS} rows published, ` +
          `${loadedAtKill} of its orders in the warehouse, slot confirmed at ${formatLsn(confirmedAtKill)}; ` +
          `${dlq} quarantined (replays); marts ${JSON.stringify(marts)}; ` +
          `warehouse equal ${(settleMs / 1000).toFixed(1)} s after the last write, ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s in all`,
      );
    } finally {
      await stopChild(child, 'SIGKILL').catch(() => {});
      for (const schema of Object.values(s))
        await wh.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
      await wh
        .query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`, [`${prefix}\\_%`])
        .catch(() => {});
      await wh.end().catch(() => {});
    }
  });
});
