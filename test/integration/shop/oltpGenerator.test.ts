import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pgConnection, type Config } from '../../../src/config/config.ts';
import { dropDatabase, ensureDatabase, ORDER_STATUSES } from '../../../src/shop/oltp/oltpDdl.ts';
import { runOltpActivity } from '../../../src/shop/generate/oltp/runOltpActivity.ts';
import { seedOltp, type SeedResult } from '../../../src/shop/generate/oltp/seedOltp.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

/**
 * The OLTP generator against the real Postgres, in throwaway databases created here.
 */

const COUNTS = { customers: 2_000, products: 300, orders: 10_000 };
const BASE_TIME = Date.UTC(2025, 5, 15, 12, 0, 0);
const SEED = 'oltp-test-seed';

let cfg: Config;
const databases: string[] = [];
let dbA: string;
let seededA: SeedResult;

async function withDb<T>(database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(pgConnection(cfg, database));
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function freshDatabase(): Promise<string> {
  const name = uniqueName('oltp_test').toLowerCase();
  databases.push(name);
  assert.equal(await ensureDatabase(cfg, name), true);
  return name;
}

const one = async (c: pg.Client, sql: string): Promise<number> =>
  Number(Object.values((await c.query(sql)).rows[0])[0]);

const CHECKSUMS = {
  customers:
    `select md5(string_agg(concat_ws('|', customer_id, email, full_name, country, created_at), ` +
    `',' order by customer_id)) from customers`,
  products:
    `select md5(string_agg(concat_ws('|', product_id, sku, name, category, price, active, created_at), ` +
    `',' order by product_id)) from products`,
  orders:
    `select md5(string_agg(concat_ws('|', order_id, customer_id, status, total_amount, currency, ordered_at), ` +
    `',' order by order_id)) from orders`,
  order_items:
    `select md5(string_agg(concat_ws('|', order_item_id, order_id, product_id, quantity, unit_price), ` +
    `',' order by order_item_id)) from order_items`,
};

async function checksums(database: string): Promise<Record<string, string>> {
  return withDb(database, async (c) => {
    const out: Record<string, string> = {};
    for (const [table, sql] of Object.entries(CHECKSUMS)) out[table] = (await c.query(sql)).rows[0].md5;
    return out;
  });
}

before(async () => {
  cfg = await realStack();
  dbA = await freshDatabase();
  seededA = await seedOltp(cfg, { ...COUNTS, seed: SEED, baseTime: BASE_TIME, database: dbA, progress: false });
});

after(async () => {
  for (const db of databases) await dropDatabase(cfg, db).catch(() => {});
});

test('seeding writes exactly the requested counts, and the items it reports', async () => {
  assert.equal(seededA.customers, COUNTS.customers);
  assert.equal(seededA.products, COUNTS.products);
  assert.equal(seededA.orders, COUNTS.orders);
  assert.ok(seededA.orderItems >= COUNTS.orders, 'every order has at least one item');
  assert.equal(seededA.rows, COUNTS.customers + COUNTS.products + COUNTS.orders + seededA.orderItems);
  await withDb(dbA, async (c) => {
    assert.equal(await one(c, 'select count(*) from customers'), COUNTS.customers);
    assert.equal(await one(c, 'select count(*) from products'), COUNTS.products);
    assert.equal(await one(c, 'select count(*) from orders'), COUNTS.orders);
    assert.equal(await one(c, 'select count(*) from order_items'), seededA.orderItems);
    assert.equal(
      await one(
        c,
        'select count(*) from orders o where not exists (select 1 from order_items i where i.order_id = o.order_id)',
      ),
      0,
    );
  });
});

test('foreign keys hold: every order item has its order and product, every order its customer', async () => {
  await withDb(dbA, async (c) => {
    assert.equal(
      await one(c, 'select count(*) from order_items i left join orders o using (order_id) where o.order_id is null'),
      0,
    );
    assert.equal(
      await one(
        c,
        'select count(*) from order_items i left join products p using (product_id) where p.product_id is null',
      ),
      0,
    );
    assert.equal(
      await one(
        c,
        'select count(*) from orders o left join customers c using (customer_id) where c.customer_id is null',
      ),
      0,
    );
    // The constraints themselves are back after the bulk load.
    assert.equal(
      await one(c, `select count(*) from pg_constraint where conrelid = 'order_items'::regclass and contype = 'f'`),
      2,
    );
    assert.equal(
      await one(c, `select count(*) from pg_constraint where conrelid = 'orders'::regclass and contype = 'f'`),
      0,
    );
    assert.equal(
      await one(c, `select count(*) from pg_constraint where contype = 'c' and connamespace = 'public'::regnamespace`),
      0,
      'no CHECK constraints',
    );
  });
});

test('totals equal the sum of their items; statuses follow the lifecycle; the shape is realistic', async () => {
  await withDb(dbA, async (c) => {
    assert.equal(
      await one(
        c,
        `select count(*) from orders o
      where o.total_amount <> (select sum(i.quantity * i.unit_price) from order_items i where i.order_id = o.order_id)`,
      ),
      0,
    );
    assert.equal(await one(c, 'select count(*) from orders where total_amount < 0'), 0);
    assert.equal(await one(c, 'select count(*) from customers where email is null'), 0);
    const statuses = (await c.query('select status, count(*)::int as n from orders group by status order by n desc'))
      .rows as { status: string; n: number }[];
    for (const s of statuses)
      assert.ok((ORDER_STATUSES as readonly string[]).includes(s.status), `unknown status ${s.status}`);
    assert.equal(statuses[0].status, 'delivered', 'most orders of the last 30 days are delivered');
    for (const s of ORDER_STATUSES)
      assert.ok(
        statuses.some((r) => r.status === s),
        `some orders are ${s}`,
      );
    // Order times: inside the 30 days before the base time, with a daily rhythm (evenings busier than nights).
    const range = (await c.query('select min(ordered_at) as lo, max(ordered_at) as hi from orders')).rows[0];
    assert.ok(range.lo.getTime() >= BASE_TIME - 30 * 86_400_000 && range.hi.getTime() < BASE_TIME);
    const night = await one(
      c,
      `select count(*) from orders where extract(hour from ordered_at at time zone 'UTC') between 2 and 4`,
    );
    const evening = await one(
      c,
      `select count(*) from orders where extract(hour from ordered_at at time zone 'UTC') between 19 and 21`,
    );
    assert.ok(evening > night * 5, `evening ${evening} vs night ${night}`);
    // Zipf popularity: the best seller sells far more than the median product.
    const sales = (
      await c.query('select count(*)::int as n from order_items group by product_id order by n desc')
    ).rows.map((r) => r.n as number);
    assert.ok(
      sales[0] > 10 * sales[Math.floor(sales.length / 2)],
      `top ${sales[0]} vs median ${sales[Math.floor(sales.length / 2)]}`,
    );
    // Categories with price bands: books are cheaper than computers.
    const books = await one(c, `select coalesce(max(price), 0) from products where category = 'books'`);
    const computers = await one(c, `select coalesce(min(price), 1e9) from products where category = 'computers'`);
    assert.ok(books < computers, `books up to ${books}, computers from ${computers}`);
  });
});

test('the same seed gives the same rows; another seed does not', async () => {
  const dbB = await freshDatabase();
  const dbC = await freshDatabase();
  await seedOltp(cfg, { ...COUNTS, seed: SEED, baseTime: BASE_TIME, database: dbB, progress: false });
  await seedOltp(cfg, { ...COUNTS, seed: 'another-seed', baseTime: BASE_TIME, database: dbC, progress: false });
  const a = await checksums(dbA);
  const b = await checksums(dbB);
  const other = await checksums(dbC);
  assert.deepEqual(b, a);
  assert.notEqual(other.orders, a.orders);
  assert.notEqual(other.customers, a.customers);
  await dropDatabase(cfg, dbB);
  await dropDatabase(cfg, dbC);
});

test('activity with a bad ratio produces exactly the ground-truth counts of bad rows', async () => {
  const before = await withDb(dbA, async (c) => ({
    orders: await one(c, 'select count(*) from orders'),
    items: await one(c, 'select count(*) from order_items'),
  }));
  const counts = await runOltpActivity(cfg, {
    rate: 10_000,
    count: 3_000,
    badRatio: 0.2,
    seed: 11,
    database: dbA,
    progress: false,
  });
  assert.equal(counts.total + counts.skipped, 3_000);
  assert.equal(counts.aborted, false);
  for (const [kind, n] of Object.entries(counts.bad)) assert.ok(n > 50, `${kind}: ${n}`);
  assert.ok(
    counts.changes.new_orders > 0 &&
      counts.changes.status_transitions > 0 &&
      counts.changes.customer_updates > 0 &&
      counts.changes.price_updates > 0 &&
      counts.changes.new_customers > 0,
    JSON.stringify(counts.changes),
  );
  const goodChanges = Object.entries(counts.changes)
    .filter(([k]) => k !== 'order_items')
    .reduce((s, [, n]) => s + n, 0);
  assert.equal(counts.total, goodChanges + Object.values(counts.bad).reduce((s, n) => s + n, 0));

  await withDb(dbA, async (c) => {
    const known = ORDER_STATUSES.map((s) => `'${s}'`).join(', ');
    assert.equal(await one(c, 'select count(*) from orders where total_amount < 0'), counts.bad.negative_total);
    assert.equal(await one(c, `select count(*) from orders where status not in (${known})`), counts.bad.unknown_status);
    assert.equal(await one(c, 'select count(*) from customers where email is null'), counts.bad.null_email);
    assert.equal(
      await one(
        c,
        'select count(*) from orders o where not exists (select 1 from customers c where c.customer_id = o.customer_id)',
      ),
      counts.bad.unknown_customer,
    );
    const newOrders =
      counts.changes.new_orders + counts.bad.negative_total + counts.bad.unknown_status + counts.bad.unknown_customer;
    assert.equal(await one(c, 'select count(*) from orders'), before.orders + newOrders);
    assert.equal(await one(c, 'select count(*) from order_items'), before.items + counts.changes.order_items);
    // Good orders still add up; item foreign keys still hold.
    assert.equal(
      await one(
        c,
        `select count(*) from orders o where o.total_amount >= 0
      and o.total_amount <> (select sum(i.quantity * i.unit_price) from order_items i where i.order_id = o.order_id)`,
      ),
      0,
    );
    assert.equal(
      await one(c, 'select count(*) from order_items i left join orders o using (order_id) where o.order_id is null'),
      0,
    );
    // The trigger moved updated_at forward on the changed rows.
    assert.ok(
      (await one(c, "select count(*) from orders where updated_at > ordered_at + interval '1 second'")) >=
        counts.changes.status_transitions * 0.9,
    );
  });
});

test('activity stops promptly and cleanly on abort, reporting what it did', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 700);
  const counts = await runOltpActivity(cfg, {
    rate: 200,
    durationMs: 60_000,
    badRatio: 0.1,
    seed: 3,
    database: dbA,
    signal: ac.signal,
    progress: false,
  });
  assert.equal(counts.aborted, true);
  assert.ok(Date.now() - t0 < 5_000, 'stopped within seconds');
  assert.ok(counts.total > 20 && counts.total < 400, `rate-limited: ${counts.total} changes in ~0.7s at 200/s`);
});
