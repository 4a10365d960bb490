import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { OFFSETS_SCHEMA, OFFSETS_TABLE } from '../../../connectors/postgres/warehouse/storedOffsets.ts';
import { type Config, pgConnection } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type { Customer, Order, OrderItem, Product } from '../../../src/domain/types.generated.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { runWarehouseTests } from '../../../src/quality/runWarehouseTests.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { MART_TESTS } from '../../../src/shop/warehouseMarts.ts';
import { layerSchemas, medallionTables } from '../../../src/shop/warehouseModel.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import { warehouseTopology } from '../../../topologies/warehouse.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { assertMartsMatchFacts } from './martsOverFacts.ts';

// Orders over ~4.5 days (several UTC dates), three categories, 40 customers.
const T0 = Date.UTC(2026, 4, 10, 20, 0, 0);
const TB = T0 + 7 * 86_400_000;
const TC = T0 + 8 * 86_400_000;
const CATEGORIES = ['books', 'toys', 'games'];
const price = (p: number) => `${(p * 2.35 + 0.99).toFixed(2)}`;

const customer = (id: number): Customer =>
  ({
    customer_id: id,
    email: `c${id}@shop.test`,
    full_name: `Customer ${id}`,
    country: 'DE',
    created_at: T0 - 86_400_000,
    updated_at: T0,
    op: 'c',
    extracted_at: T0 + 1000,
  }) as Customer;
const product = (id: number): Product =>
  ({
    product_id: id,
    sku: `SKU-${id}`,
    name: `Product ${id}`,
    category: CATEGORIES[id % 3],
    price: price(id),
    active: true,
    created_at: T0 - 86_400_000,
    updated_at: T0,
    op: 'c',
    extracted_at: T0 + 1000,
  }) as Product;
const order = (id: number): Order =>
  ({
    order_id: id,
    customer_id: 1 + (id % 40),
    status: id % 7 === 0 ? 'pending' : 'paid',
    total_amount: `${id * 3}.50`,
    currency: 'EUR',
    ordered_at: T0 + id * 53 * 60_000,
    updated_at: T0 + id * 53 * 60_000,
    op: 'c',
    extracted_at: T0 + id * 53 * 60_000 + 1000,
  }) as Order;
const item = (id: number): OrderItem =>
  ({
    order_item_id: id,
    order_id: 1 + (id % 120),
    product_id: 1 + (id % 12),
    quantity: 1 + (id % 4),
    unit_price: price(1 + (id % 12)),
    updated_at: T0,
    op: 'c',
    extracted_at: T0 + 1000,
  }) as OrderItem;
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);
const change = <T extends { updated_at: number; extracted_at: number }>(r: T, at: number, patch: Partial<T>): T => ({
  ...r,
  ...patch,
  updated_at: at,
  extracted_at: at + 1000,
  op: 'u',
});
/** A change data capture delete: the last row image, op d, captured after it. */
const deleted = <T extends { extracted_at: number }>(last: T, capturedAt: number): T => ({
  ...last,
  op: 'd',
  extracted_at: capturedAt,
});

type Entity = 'customers' | 'products' | 'orders' | 'order_items';
const KEY: Record<Entity, string> = {
  customers: 'customer_id',
  products: 'product_id',
  orders: 'order_id',
  order_items: 'order_item_id',
};

async function producerFor(cfg: Config, kafka: KafkaClient, topicPrefix: string) {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(
    admin,
    (Object.keys(KEY) as Entity[]).map((e) => ({ topic: `${topicPrefix}.silver.${e}`, partitions: 3 })),
    { partitions: 3, replicationFactor: 1 },
  );
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const ids = {} as Record<Entity, number>;
  for (const e of Object.keys(KEY) as Entity[])
    ids[e] = await registry.register(`silver.${e}-value`, loadSchema(`silver.${e}`));
  const producer = kafka.producer();
  await producer.connect();
  return {
    async send(e: Entity, rows: object[]) {
      const messages = await Promise.all(
        rows.map(async (r) => ({
          key: String((r as Record<string, unknown>)[KEY[e]]),
          value: await serde.encode(ids[e], r),
        })),
      );
      await producer.send({ topic: `${topicPrefix}.silver.${e}`, acks: -1, messages });
    },
    close: () => producer.disconnect(),
  };
}

/** Every medallion sink's stored offsets are at the ends of the topic it reads. */
async function loaded(client: pg.Client, kafka: KafkaClient, topicPrefix: string, schemaPrefix: string) {
  const { rows } = await client.query<{ sink: string; topic: string; partition: number; next_offset: string }>(
    `select sink, topic, partition, next_offset::text from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`,
    [`${schemaPrefix}\\_%`],
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const t of medallionTables({ schemaPrefix })) {
      const topic = `${topicPrefix}.${t.source}`;
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const stored = rows.find(
          (r) => r.sink === `${t.sink.schema}.${t.sink.table}` && r.topic === topic && r.partition === p.partition,
        );
        if ((stored?.next_offset ?? '0') !== p.high) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

test('gold marts equal SQL over the facts through out-of-order loads, updates and deletes; their tests pass', {
  timeout: 240_000,
}, async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const topicPrefix = uniqueName('it');
  const schemaPrefix = uniqueName('it_mart');
  const s = layerSchemas(schemaPrefix);
  const kafka = createKafkaClient(cfg, 'it-marts');
  const producer = await producerFor(cfg, kafka, topicPrefix);
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  const def = prefixTopology(warehouseTopology({ schemaPrefix, sink: { lingerMs: 100 } }), topicPrefix);
  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('it-marts'), commitIntervalMs: 200 });
  const landed = (what: string) =>
    eventually(() => loaded(client, kafka, topicPrefix, schemaPrefix), `${what} in the warehouse`, 90_000);
  const count = async (sql: string) => Number((await client.query(sql)).rows[0].n);
  try {
    // 1. Lines before their orders: no order, no sale, no mart row.
    const items = range(1, 300).map(item);
    await producer.send('order_items', items);
    await landed('the lines');
    assert.equal(await count(`select count(*) as n from "${s.gold}".fact_order_items`), 300);
    assert.deepEqual(await assertMartsMatchFacts(client, s.gold), {
      mart_revenue_daily: 0,
      mart_customers: 0,
      mart_products: 0,
    });

    // 2. The orders and customers, products still missing: revenue under 'unknown'.
    const orders = range(1, 120).map(order);
    await producer.send('customers', range(1, 40).map(customer));
    await producer.send('orders', orders);
    await landed('the orders');
    const early = await assertMartsMatchFacts(client, s.gold);
    assert.equal(early.mart_customers, 40);
    assert.equal(early.mart_products, 12);
    assert.ok(early.mart_revenue_daily >= 5, 'several days');
    assert.equal(
      await count(`select count(*) as n from "${s.gold}".mart_revenue_daily where category <> 'unknown'`),
      0,
    );
    const warned = await runWarehouseTests(client, { schemaPrefix, tests: MART_TESTS });
    assert.deepEqual(
      warned.filter((r) => r.status !== 'pass').map((r) => `${r.status} ${r.name}`),
      [
        'warn relationships gold.mart_revenue_daily.category -> gold.dim_products.category',
        // Like fact_order_items.product_key: a product not loaded yet is an orphan until it is.
        'fail relationships gold.mart_products.product_key -> gold.dim_products.product_key',
      ],
    );

    // 3. The products arrive: revenue moves to their categories.
    await producer.send('products', range(1, 12).map(product));
    await landed('the products');
    await assertMartsMatchFacts(client, s.gold);
    assert.equal(await count(`select count(*) as n from "${s.gold}".mart_revenue_daily where category = 'unknown'`), 0);

    // 4. Updates: cancellations and refunds leave the marts, quantities and a line's product change,
    //    two products change category (revenue moves between categories on every day they sold).
    const cancelled = [1, 2, 3, 40, 80, 120]; // 40, 80, 120: every order of customer 1
    const orderChanges = [
      ...cancelled.map((id) => change(orders[id - 1], TB, { status: 'cancelled' })),
      ...range(11, 15).map((id) => change(orders[id - 1], TB, { status: 'refunded' })),
      ...range(16, 30).map((id) => change(orders[id - 1], TB, { status: 'shipped' })),
    ];
    await producer.send('orders', orderChanges);
    await producer.send('order_items', [
      ...range(31, 50).map((id) => change(items[id - 1], TB, { quantity: items[id - 1].quantity + 3 })),
      change(items[50], TB, { product_id: 12, unit_price: price(12) }),
    ]);
    await producer.send('products', [
      change(product(1), TB, { category: 'garden' }),
      change(product(2), TB, { category: 'garden' }),
    ]);
    await landed('the updates');
    await assertMartsMatchFacts(client, s.gold);
    assert.equal(await count(`select count(*) as n from "${s.gold}".mart_customers where customer_key = 1`), 0);
    assert.ok((await count(`select count(*) as n from "${s.gold}".mart_revenue_daily where category = 'garden'`)) > 0);

    // 5. Deletes: an order (its image carries its last updated_at: the delete is the later record),
    //    a stale delete older than the row (loses), every line of order 9, a product, a customer.
    const last = new Map(orderChanges.map((o) => [o.order_id, o]));
    await producer.send('orders', [
      deleted(last.get(20)!, TC),
      deleted(orders[8 - 1], TC), // order 8 was not changed: its image is the row
      deleted(orders[21 - 1], TC), // updated at TB, this image is from T0: older than the row
    ]);
    const order9Items = items.filter((i) => i.order_id === 9);
    assert.ok(order9Items.length > 0);
    await producer.send(
      'order_items',
      order9Items.map((i) => deleted(i, TC)),
    );
    await producer.send('products', [deleted(product(5), TC)]);
    await producer.send('customers', [deleted(customer(4), TC)]);
    await landed('the deletes');
    await assertMartsMatchFacts(client, s.gold);
    const ids = async (sql: string) => (await client.query(sql)).rows.map((r) => Number(r.id));
    assert.deepEqual(
      await ids(`select order_id as id from "${s.gold}".fact_orders where order_id in (8, 20, 21)`),
      [21],
    );
    assert.deepEqual(
      await ids(`select order_id as id from "${s.silver}".orders where order_id in (8, 20, 21) order by 1`),
      [21],
    );
    assert.equal(await count(`select count(*) as n from "${s.gold}".fact_order_items where order_id = 9`), 0);
    assert.equal(
      await count(`select count(*) as n from "${s.bronze}".orders where op = 'd'`),
      3,
      'bronze keeps every delete as history',
    );
    const {
      rows: [p5],
    } = await client.query(
      `select active, category, deleted_at = to_timestamp(${TC} / 1000.0) as stamped
         from "${s.gold}".dim_products where product_key = 5`,
    );
    assert.deepEqual(p5, { active: false, category: CATEGORIES[5 % 3], stamped: true });
    const { rows: c4 } = await client.query(
      `select is_current, valid_to = to_timestamp(${TC} / 1000.0) as closed
         from "${s.gold}".dim_customers where customer_key = 4`,
    );
    assert.deepEqual(c4, [{ is_current: false, closed: true }], 'the SCD2 history stays, closed at the delete');

    const results = await runWarehouseTests(client, { schemaPrefix, tests: MART_TESTS });
    assert.deepEqual(
      results.filter((r) => r.status !== 'pass').map((r) => `${r.status} ${r.name}`),
      [],
    );
  } finally {
    await proc.stop();
    await producer.close();
    for (const schema of Object.values(s)) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`, [
      `${schemaPrefix}\\_%`,
    ]);
    await client.end();
  }
});
