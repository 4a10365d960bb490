import type pg from 'pg';
import { copyTextRow } from '../../../../connectors/postgres/copyText.ts';
import { SluiceError } from '../../../core/errors.ts';
import { OLTP_FOREIGN_KEYS, SECONDARY_INDEXES } from '../../oltp/oltpDdl.ts';
import { nextId, syncIdentity } from '../../oltp/oltpIdentity.ts';
import { DailyRhythmSampler, ZipfSampler } from '../random.ts';
import { centsToDecimal, decimalToCents } from './money.ts';
import { ITEM_COUNTS, lifecycleStatus, QUANTITIES } from './orderShape.ts';
import { CURRENCY_BY_COUNTRY } from './people.ts';
import { checkAborted, copyInto, DAY_MS, iso, type SeedRun } from './seedRun.ts';

interface Buyer {
  id: number;
  currency: string;
}
interface CatalogProduct {
  id: number;
  cents: number;
}

/** Who orders what, and when: popularity and the daily rhythm, fixed before any row is drawn. */
interface OrderPlan {
  run: SeedRun;
  count: number;
  firstOrder: number;
  firstItem: number;
  customerRank: Buyer[];
  customerZipf: ZipfSampler;
  productRank: CatalogProduct[];
  productZipf: ZipfSampler;
  times: DailyRhythmSampler;
}

async function loadParents(client: pg.Client): Promise<{ customers: Buyer[]; catalog: CatalogProduct[] }> {
  const customers: Buyer[] = (
    await client.query('select customer_id, country from customers order by customer_id')
  ).rows.map((row) => ({ id: Number(row.customer_id), currency: CURRENCY_BY_COUNTRY.get(row.country) ?? 'EUR' }));
  const catalog: CatalogProduct[] = (
    await client.query('select product_id, price from products where active order by product_id')
  ).rows.map((row) => ({ id: Number(row.product_id), cents: decimalToCents(row.price) }));
  if (!customers.length || !catalog.length) {
    throw new SluiceError(
      'CLI_USAGE',
      `cannot seed orders: the database has ${customers.length} customers and ${catalog.length} active products; ` +
        'seed some with --customers and --products',
    );
  }
  return { customers, catalog };
}

async function planOrders(run: SeedRun, count: number): Promise<OrderPlan> {
  const { customers, catalog } = await loadParents(run.client);
  const firstOrder = await nextId(run.client, 'orders', 'order_id');
  const firstItem = await nextId(run.client, 'order_items', 'order_item_id');
  const shape = run.rng.fork('shape');
  // Popularity: Zipf over a shuffled catalogue, so the best sellers are not simply the lowest ids.
  const productRank = shape.shuffled(catalog);
  const productZipf = new ZipfSampler(productRank.length, 1.07);
  const customerRank = shape.shuffled(customers);
  const customerZipf = new ZipfSampler(customerRank.length, 0.6);
  const times = new DailyRhythmSampler(run.baseTime - run.days * DAY_MS, run.baseTime);
  return { run, count, firstOrder, firstItem, customerRank, customerZipf, productRank, productZipf, times };
}

/**
 * The orders with their item lines, generated afresh from the same stream on each call (orders
 * first, then items, for the foreign key) instead of holding every item in memory.
 */
function* orderStream(plan: OrderPlan, withLine: boolean): Generator<{ line: string; items: string[] }> {
  const r = plan.run.rng.fork('orders');
  let itemId = plan.firstItem;
  for (let i = 0; i < plan.count; i++) {
    const orderId = plan.firstOrder + i;
    const customer = plan.customerRank[plan.customerZipf.sample(r)];
    const orderedAt = plan.times.sample(r);
    const nItems = Math.min(ITEM_COUNTS.sample(r), plan.productRank.length);
    const picks = r.distinctInts(nItems, plan.productRank.length, () => plan.productZipf.sample(r));
    let total = 0;
    const items: string[] = [];
    for (const rank of picks) {
      const p = plan.productRank[rank];
      const qty = QUANTITIES.sample(r);
      total += qty * p.cents;
      items.push(copyTextRow([String(itemId++), String(orderId), String(p.id), String(qty), centsToDecimal(p.cents)]));
    }
    const status = lifecycleStatus(r, plan.run.baseTime - orderedAt);
    const fields = [String(orderId), String(customer.id), status, centsToDecimal(total), customer.currency];
    yield { line: withLine ? copyTextRow([...fields, iso(orderedAt)]) : '', items };
  }
}

function* orderLines(plan: OrderPlan): Generator<string> {
  for (const o of orderStream(plan, true)) yield o.line;
}

function* itemLines(plan: OrderPlan): Generator<string> {
  for (const o of orderStream(plan, false)) yield* o.items;
}

/**
 * Runs `load` with the foreign keys (and, into empty tables, the secondary indexes) of orders and
 * items dropped, and recreates them after. Checking two foreign keys row by row costs far more
 * than the load itself; re-adding them validates every row in one join (a failure rolls
 * everything back, the constraints included). Into empty tables, building the indexes once after
 * the load beats maintaining them row by row.
 */
async function withoutConstraints<T>(client: pg.Client, emptyTables: boolean, load: () => Promise<T>): Promise<T> {
  for (const fk of OLTP_FOREIGN_KEYS)
    await client.query(`alter table ${fk.table} drop constraint if exists ${fk.name}`);
  const rebuild = emptyTables
    ? SECONDARY_INDEXES.filter((ix) => ix.table === 'orders' || ix.table === 'order_items')
    : [];
  for (const ix of rebuild) await client.query(`drop index if exists ${ix.name}`);
  const result = await load();
  for (const ix of rebuild) await client.query(ix.create);
  for (const fk of OLTP_FOREIGN_KEYS)
    await client.query(`alter table ${fk.table} add constraint ${fk.name} ${fk.definition}`);
  return result;
}

const ORDER_COLUMNS = ['order_id', 'customer_id', 'status', 'total_amount', 'currency', 'ordered_at'];
const ITEM_COLUMNS = ['order_item_id', 'order_id', 'product_id', 'quantity', 'unit_price'];

/**
 * Copies `count` orders and their items, referencing every customer and active product in the
 * database, with ids after the current maximum of each table.
 */
export async function seedOrders(run: SeedRun, count: number): Promise<{ orders: number; orderItems: number }> {
  const plan = await planOrders(run, count);
  const { client } = run;
  const copied = await withoutConstraints(client, plan.firstOrder === 1 && plan.firstItem === 1, async () => {
    const orders = await copyInto(run, 'orders', ORDER_COLUMNS, orderLines(plan));
    checkAborted(run);
    const orderItems = await copyInto(run, 'order_items', ITEM_COLUMNS, itemLines(plan));
    return { orders, orderItems };
  });
  await syncIdentity(client, 'orders', 'order_id');
  await syncIdentity(client, 'order_items', 'order_item_id');
  return copied;
}
