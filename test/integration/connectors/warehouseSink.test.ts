import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parseWarehouseSinkConfig } from '../../../connectors/postgres/warehouse/config.ts';
import { createWarehouseSinkConnector } from '../../../connectors/postgres/warehouse/sink.ts';
import { onWarehouseBatchCommitted } from '../../../connectors/postgres/warehouse/loadEvents.ts';
import { OFFSETS_SCHEMA, OFFSETS_TABLE } from '../../../connectors/postgres/warehouse/storedOffsets.ts';
import { dateKeyOf, layerSchemas, medallionTables, multiplyDecimal } from '../../../src/shop/warehouseModel.ts';
import { pgConnection, type Config } from '../../../src/config/config.ts';
import { loadSchema, loadType } from '../../../src/domain/schemas.ts';
import type { Customer, Order, OrderItem, Product } from '../../../src/domain/types.generated.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import { startRunnerProcess } from '../../../src/runner/runnerProcess.ts';
import { createAvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { prefixTopology } from '../../../src/testing/prefixTopology.ts';
import type { Ack, Output } from '../../../src/topology/types.ts';
import { warehouseTopology } from '../../../topologies/warehouse.ts';
import { IN_TX_MARKER, READY_MARKER } from '../../support/runWarehouseChild.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';
import { assertMartsMatchFacts } from '../warehouse/martsOverFacts.ts';

// ---- data: three phases of silver records (creates, then updates, then more updates)

const T0 = Date.UTC(2026, 2, 1, 21, 0, 0);
const HOUR = 3_600_000;
const TRICKY = 'Zoë "Q" O\'Brien\twith tab\nnew line\\backslash \\N';

interface Phase {
  customers: Customer[];
  products: Product[];
  orders: Order[];
  items: OrderItem[];
}

const price = (i: number) => `${(i * 3.15 + 0.5).toFixed(2)}`;

function phaseA(): Phase {
  const customers = Array.from({ length: 60 }, (_, k) => {
    const i = k + 1;
    return {
      customer_id: i,
      email: i % 15 === 0 ? null : `c${i}@shop.test`,
      full_name: i % 10 === 1 ? `${TRICKY} ${i}` : `Customer ${i}`,
      country: ['DE', 'FR', 'US'][i % 3],
      created_at: T0 - i * 86_400_000,
      updated_at: T0,
      op: 'c',
      extracted_at: T0 + 1000,
    } as Customer;
  });
  const products = Array.from({ length: 20 }, (_, k) => {
    const i = k + 1;
    return {
      product_id: i,
      sku: `SKU-${i}`,
      name: `Product ${i}`,
      category: ['books', 'toys'][i % 2],
      price: price(i),
      active: i % 7 !== 0,
      created_at: T0 - HOUR,
      updated_at: T0,
      op: 'c',
      extracted_at: T0 + 1000,
    } as Product;
  });
  // Orders spread over ~2.5 days, so they fall on several date keys (UTC days).
  const orders = Array.from({ length: 100 }, (_, k) => order(k + 1, T0 + (k + 1) * 37 * 60_000, 'pending'));
  const items = Array.from({ length: 250 }, (_, k) => item(k + 1, 1 + (k % 100), 1 + (k % 20), 1 + (k % 5), T0));
  return { customers, products, orders, items };
}

function order(id: number, orderedAt: number, status: string, updatedAt = orderedAt): Order {
  return {
    order_id: id,
    customer_id: 1 + (id % 60),
    status,
    total_amount: `${id * 7}.${String(id % 100).padStart(2, '0')}`,
    currency: id % 4 === 0 ? 'USD' : 'EUR',
    ordered_at: orderedAt,
    updated_at: updatedAt,
    op: 'c',
    extracted_at: updatedAt + 1000,
  } as Order;
}

function item(id: number, orderId: number, productId: number, quantity: number, updatedAt: number): OrderItem {
  return {
    order_item_id: id,
    order_id: orderId,
    product_id: productId,
    quantity,
    unit_price: price(productId),
    updated_at: updatedAt,
    op: 'c',
    extracted_at: updatedAt + 1000,
  } as OrderItem;
}

function phaseB(a: Phase): Phase {
  const t = T0 + 5 * 24 * HOUR;
  return {
    // 1–20 change their email (a new SCD2 version); 21–30 change nothing tracked (no version).
    customers: [
      ...a.customers.slice(0, 20).map(
        (c) =>
          ({
            ...c,
            email: `new${c.customer_id}@shop.test`,
            updated_at: t,
            op: 'u',
            extracted_at: t + 1000,
          }) as Customer,
      ),
      ...a.customers.slice(20, 30).map((c) => ({ ...c, updated_at: t, op: 'u', extracted_at: t + 1000 }) as Customer),
    ],
    products: a.products
      .slice(0, 5)
      .map(
        (p) => ({ ...p, price: price(p.product_id + 100), updated_at: t, op: 'u', extracted_at: t + 1000 }) as Product,
      ),
    orders: [
      ...a.orders
        .slice(0, 30)
        .map((o) => ({ ...o, status: 'paid', updated_at: t, op: 'u', extracted_at: t + 1000 }) as Order),
      ...Array.from({ length: 30 }, (_, k) => order(101 + k, t + k * 60_000, 'pending')),
    ],
    items: Array.from({ length: 70 }, (_, k) => item(251 + k, 101 + (k % 30), 1 + (k % 20), 2, t)),
  };
}

function phaseC(a: Phase): Phase {
  const t = T0 + 6 * 24 * HOUR;
  return {
    // 1–10 move country after their email change (a third version).
    customers: a.customers.slice(0, 10).map(
      (c) =>
        ({
          ...c,
          email: `new${c.customer_id}@shop.test`,
          country: 'NL',
          updated_at: t,
          op: 'u',
          extracted_at: t + 1000,
        }) as Customer,
    ),
    products: [],
    orders: a.orders
      .slice(0, 10)
      .map((o) => ({ ...o, status: 'shipped', updated_at: t, op: 'u', extracted_at: t + 1000 }) as Order),
    items: a.items
      .slice(0, 20)
      .map((i) => ({ ...i, quantity: i.quantity + 10, updated_at: t, op: 'u', extracted_at: t + 1000 }) as OrderItem),
  };
}

// ---- expected tables

type Row = object;
const field = (r: Row, c: string): unknown => (r as Record<string, unknown>)[c];

function latest<T extends { updated_at: number }>(rows: T[], key: (r: T) => number): T[] {
  const m = new Map<number, T>();
  for (const r of rows) {
    const cur = m.get(key(r));
    if (!cur || r.updated_at >= cur.updated_at) m.set(key(r), r);
  }
  return [...m.entries()].sort((x, y) => x[0] - y[0]).map(([, r]) => r);
}

function expectedTables(phases: Phase[]): Record<string, Row[]> {
  const customers = phases.flatMap((p) => p.customers),
    products = phases.flatMap((p) => p.products);
  const orders = phases.flatMap((p) => p.orders),
    items = phases.flatMap((p) => p.items);
  const bySeq = <T extends { updated_at: number; extracted_at: number }>(rows: T[], key: (r: T) => number) =>
    [...rows].sort((x, y) => key(x) - key(y) || x.updated_at - y.updated_at || x.extracted_at - y.extracted_at);
  const dim: Row[] = [];
  for (const c of latest(customers, (r) => r.customer_id)) {
    const history = customers
      .filter((r) => r.customer_id === c.customer_id)
      .sort((x, y) => x.updated_at - y.updated_at);
    const versions: Customer[] = [];
    for (const h of history) {
      const prev = versions.at(-1);
      if (!prev || prev.email !== h.email || prev.full_name !== h.full_name || prev.country !== h.country)
        versions.push(h);
    }
    versions.forEach((v, i) =>
      dim.push({
        customer_key: v.customer_id,
        email: v.email,
        full_name: v.full_name,
        country: v.country,
        created_at: v.created_at,
        valid_from: v.updated_at,
        valid_to: versions[i + 1]?.updated_at ?? null,
        is_current: i === versions.length - 1,
      }),
    );
  }
  return {
    'bronze.customers': bySeq(customers, (r) => r.customer_id),
    'bronze.products': bySeq(products, (r) => r.product_id),
    'bronze.orders': bySeq(orders, (r) => r.order_id),
    'bronze.order_items': bySeq(items, (r) => r.order_item_id),
    'silver.customers': latest(customers, (r) => r.customer_id),
    'silver.products': latest(products, (r) => r.product_id),
    'silver.orders': latest(orders, (r) => r.order_id),
    'silver.order_items': latest(items, (r) => r.order_item_id),
    'gold.dim_customers': dim,
    'gold.dim_products': latest(products, (r) => r.product_id).map((p) => ({
      product_key: p.product_id,
      sku: p.sku,
      name: p.name,
      category: p.category,
      price: p.price,
      active: p.active,
      created_at: p.created_at,
      updated_at: p.updated_at,
    })),
    'gold.fact_orders': latest(orders, (r) => r.order_id).map((o) => ({
      order_id: o.order_id,
      customer_key: o.customer_id,
      date_key: dateKeyOf(o.ordered_at),
      status: o.status,
      total_amount: o.total_amount,
      currency: o.currency,
      ordered_at: o.ordered_at,
      updated_at: o.updated_at,
    })),
    'gold.fact_order_items': latest(items, (r) => r.order_item_id).map((i) => ({
      order_item_id: i.order_item_id,
      order_id: i.order_id,
      product_key: i.product_id,
      quantity: i.quantity,
      unit_price: i.unit_price,
      line_amount: multiplyDecimal(i.quantity, i.unit_price),
      updated_at: i.updated_at,
    })),
  };
}

const ORDER_BY: Record<string, string> = {
  'bronze.customers': 'customer_id, updated_at, extracted_at',
  'bronze.products': 'product_id, updated_at, extracted_at',
  'bronze.orders': 'order_id, updated_at, extracted_at',
  'bronze.order_items': 'order_item_id, updated_at, extracted_at',
  'silver.customers': 'customer_id',
  'silver.products': 'product_id',
  'silver.orders': 'order_id',
  'silver.order_items': 'order_item_id',
  'gold.dim_customers': 'customer_key, valid_from',
  'gold.dim_products': 'product_key',
  'gold.fact_orders': 'order_id',
  'gold.fact_order_items': 'order_item_id',
};

// ---- Postgres and Kafka helpers

/** A client that reads bigint as number and timestamptz as epoch ms, like the Avro values. */
function warehouseClient(cfg: Config): pg.Client {
  const ts = pg.types.getTypeParser(1184) as (s: string) => Date;
  return new pg.Client({
    ...pgConnection(cfg, cfg.warehouseDatabase),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20
          ? (v: string) => Number(v)
          : oid === 1184
            ? (v: string) => ts(v).getTime()
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
}

async function assertTablesMatch(client: pg.Client, schemaPrefix: string, phases: Phase[]): Promise<void> {
  const expected = expectedTables(phases);
  const schemas = layerSchemas(schemaPrefix);
  for (const [name, rows] of Object.entries(expected)) {
    const [layer, table] = name.split('.') as ['bronze' | 'silver' | 'gold', string];
    const cols = Object.keys(rows[0] ?? {});
    assert.ok(cols.length, `${name}: expected rows`);
    const { rows: actual } = await client.query(
      `select ${cols.map((c) => `"${c}"`).join(', ')} from "${schemas[layer]}"."${table}" order by ${ORDER_BY[name]}`,
    );
    assert.equal(actual.length, rows.length, `${name}: row count`);
    assert.deepEqual(
      actual,
      rows.map((r) => Object.fromEntries(cols.map((c) => [c, field(r, c)]))),
      `${name}: rows`,
    );
  }
}

async function topicEnds(kafka: KafkaClient, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

/** Every medallion sink's stored offsets equal the ends of the topic it reads. */
async function offsetsAtEnds(
  client: pg.Client,
  kafka: KafkaClient,
  topicPrefix: string,
  schemaPrefix: string,
): Promise<boolean> {
  const { rows } = await client.query<{ sink: string; topic: string; partition: number; next_offset: number }>(
    `select sink, topic, partition, next_offset from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`,
    [`${schemaPrefix}\\_%`],
  );
  for (const t of medallionTables({ schemaPrefix })) {
    const topic = `${topicPrefix}.${t.source}`;
    const sink = `${t.sink.schema}.${t.sink.table}`;
    for (const [partition, high] of await topicEnds(kafka, topic)) {
      const stored =
        rows.find((r) => r.sink === sink && r.topic === topic && r.partition === partition)?.next_offset ?? 0;
      if (String(stored) !== high) return false;
    }
  }
  return true;
}

interface Producer {
  send(phase: Phase): Promise<void>;
}

async function setUp(
  cfg: Config,
  topicPrefix: string,
): Promise<{ kafka: KafkaClient; producer: Producer; close(): Promise<void> }> {
  const kafka = createKafkaClient(cfg, 'it-warehouse');
  const admin = kafka.admin();
  await admin.connect();
  const topics = ['customers', 'products', 'orders', 'order_items'].map((e) => `${topicPrefix}.silver.${e}`);
  await ensureTopics(
    admin,
    topics.map((topic) => ({ topic, partitions: 3 })),
    { partitions: 3, replicationFactor: 1 },
  );
  await admin.disconnect();
  const registry = createRegistryClient(cfg);
  const serde = createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes });
  const ids: Record<string, number> = {};
  for (const e of ['customers', 'products', 'orders', 'order_items'])
    ids[e] = await registry.register(`silver.${e}-value`, loadSchema(`silver.${e}`));
  const producer = kafka.producer();
  await producer.connect();
  const keyOf: Record<string, string> = {
    customers: 'customer_id',
    products: 'product_id',
    orders: 'order_id',
    order_items: 'order_item_id',
  };
  return {
    kafka,
    producer: {
      async send(phase) {
        const byEntity: Record<string, Row[]> = {
          customers: phase.customers,
          products: phase.products,
          orders: phase.orders,
          order_items: phase.items,
        };
        for (const [e, rows] of Object.entries(byEntity)) {
          if (!rows.length) continue;
          const messages = await Promise.all(
            rows.map(async (r) => ({ key: String(field(r, keyOf[e])), value: await serde.encode(ids[e], r) })),
          );
          await producer.send({ topic: `${topicPrefix}.silver.${e}`, acks: -1, messages });
        }
      },
    },
    async close() {
      await producer.disconnect();
    },
  };
}

async function dropWarehouse(client: pg.Client, schemaPrefix: string): Promise<void> {
  for (const s of Object.values(layerSchemas(schemaPrefix))) await client.query(`drop schema if exists "${s}" cascade`);
  await client.query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink like $1`, [`${schemaPrefix}\\_%`]);
}

// ---- child runner processes

const CHILD = fileURLToPath(new URL('../../support/runWarehouseChild.ts', import.meta.url));

interface Child {
  proc: ChildProcess;
  lines: string[];
  waitFor(prefix: string, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

function startChild(args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], {
    env: { ...process.env, SLUICE_LOG_LEVEL: process.env.SLUICE_LOG_LEVEL ?? 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters])
      if (line.startsWith(w.prefix)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor(prefix, timeoutMs) {
      const seen = lines.find((l) => l.startsWith(prefix));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child: no "${prefix}" line within ${timeoutMs}ms; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          prefix,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`child exited (${code}) before "${prefix}"; stderr: ${stderr}`));
        });
      });
    },
  };
}

async function kill(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  await child.exited;
}

// ---- tests

test('the warehouse topology fills bronze, silver and gold; tables match the expected rows; SCD2 keeps customer history', async () => {
  const cfg = { ...(await realStack()), httpPort: 0 };
  const topicPrefix = uniqueName('it');
  const schemaPrefix = uniqueName('it_wh');
  const { kafka, producer, close } = await setUp(cfg, topicPrefix);
  const client = warehouseClient(cfg);
  await client.connect();
  const a = phaseA(),
    b = phaseB(a),
    c = phaseC(a);
  for (const p of [a, b, c]) await producer.send(p);
  await close();

  const def = prefixTopology(warehouseTopology({ schemaPrefix, sink: { lingerMs: 100 } }), topicPrefix);
  const proc = await startRunnerProcess(cfg, [def], { groupId: uniqueName('it-warehouse'), commitIntervalMs: 200 });
  try {
    await eventually(
      () => offsetsAtEnds(client, kafka, topicPrefix, schemaPrefix),
      'warehouse offsets at the topic ends',
      90_000,
    );
    await assertTablesMatch(client, schemaPrefix, [a, b, c]);

    const gold = layerSchemas(schemaPrefix).gold;
    // SCD2 in detail: customer 1 has three versions, the old ones closed where the next begins.
    const { rows: history } = await client.query(
      `select customer_sk, email, country, valid_from, valid_to, is_current from "${gold}".dim_customers where customer_key = 1 order by valid_from`,
    );
    assert.deepEqual(
      history.map((h) => [h.email, h.country, h.is_current]),
      [
        ['c1@shop.test', 'FR', false],
        ['new1@shop.test', 'FR', false],
        ['new1@shop.test', 'NL', true],
      ],
    );
    assert.equal(history[0].valid_to, history[1].valid_from);
    assert.equal(history[1].valid_to, history[2].valid_from);
    assert.equal(history[2].valid_to, null);
    assert.equal(new Set(history.map((h) => h.customer_sk)).size, 3, 'a surrogate key per version');
    // A no-op update (customers 21–30) opened no version.
    assert.equal(
      (
        await client.query(
          `select count(*)::int as n from "${gold}".dim_customers where customer_key between 21 and 30`,
        )
      ).rows[0].n,
      10,
    );
    assert.equal(
      (await client.query(`select count(*)::int as n from "${gold}".dim_customers where is_current`)).rows[0].n,
      60,
    );

    // dim_date: the calendar, and every fact's date key is in it.
    const {
      rows: [cal],
    } = await client.query(
      `select count(*)::int as n, min(date_key) as lo, max(date_key) as hi from "${gold}".dim_date`,
    );
    assert.deepEqual(cal, { n: 4018, lo: 20200101, hi: 20301231 });
    const {
      rows: [sat],
    } = await client.query(
      `select weekday_name, is_weekend, quarter, week from "${gold}".dim_date where date_key = 20260307`,
    );
    assert.deepEqual(sat, { weekday_name: 'Saturday', is_weekend: true, quarter: 1, week: 10 });
    assert.equal(
      (
        await client.query(
          `select count(*)::int as n from "${gold}".fact_orders f left join "${gold}".dim_date d using (date_key) where d.date_key is null`,
        )
      ).rows[0].n,
      0,
    );

    // BI-ready: comments from the Avro docs, primary keys.
    const {
      rows: [doc],
    } = await client.query(
      `select col_description('"${gold}".fact_orders'::regclass, 2) as customer_key_doc, obj_description('"${layerSchemas(schemaPrefix).silver}".orders'::regclass, 'pg_class') as silver_doc`,
    );
    assert.match(doc.customer_key_doc, /Durable customer key/);
    assert.match(doc.silver_doc, /^Silver: current state/);
    const { rows: pks } = await client.query(
      `select conrelid::regclass::text as t from pg_constraint where contype = 'p' and connamespace::regnamespace::text in ($1, $2, $3)`,
      Object.values(layerSchemas(schemaPrefix)),
    );
    assert.equal(pks.length, 16, 'every table has a primary key (12 sink tables, dim_date and the 3 marts)');
  } finally {
    await proc.stop();
    await dropWarehouse(client, schemaPrefix);
    await client.end();
  }
});

const SIGKILL_BETWEEN_COPY_AND_COMMIT_TITLE =
  'exactly once after SIGKILL between COPY and COMMIT: nothing lost, nothing doubled, committed rows ' +
  'not rewritten, offsets at the topic ends';
test(SIGKILL_BETWEEN_COPY_AND_COMMIT_TITLE, {
  timeout: 240_000,
}, async () => {
  const cfg = await realStack();
  const topicPrefix = uniqueName('it');
  const schemaPrefix = uniqueName('it_wh');
  const { kafka, producer, close } = await setUp(cfg, topicPrefix);
  const client = warehouseClient(cfg);
  await client.connect();
  const schemas = layerSchemas(schemaPrefix);
  const a = phaseA(),
    b = phaseB(a),
    c = phaseC(a);
  const children: Child[] = [];
  // Each child joins a fresh consumer group: with no Kafka commit to fall back on, only the
  // warehouse's stored offsets keep it from re-reading the topics from the beginning.
  const run = (env: Record<string, string> = {}) => {
    const child = startChild([topicPrefix, schemaPrefix, uniqueName('it-wh-crash')], {
      SLUICE_TEST_COMMIT_INTERVAL_MS: String(3_600_000),
      ...env,
    });
    children.push(child);
    return child;
  };
  try {
    // 1. Phase A committed in the warehouse, never in Kafka; then the process dies.
    await producer.send(a);
    const first = run();
    await first.waitFor(READY_MARKER, 60_000);
    await eventually(() => offsetsAtEnds(client, kafka, topicPrefix, schemaPrefix), 'phase A in the warehouse', 90_000);
    await kill(first);
    assert.ok((await assertMartsMatchFacts(client, schemas.gold)).mart_revenue_daily > 0, 'marts of phase A');
    const versionsAfterA = (
      await client.query(
        `select order_id, xmin::text as xmin from "${schemas.silver}".orders where order_id > 30 order by order_id`,
      )
    ).rows;

    // 2. Phase B is copied and merged, then the process is killed before COMMIT.
    await producer.send(b);
    const second = run({ SLUICE_TEST_PAUSE_BEFORE_COMMIT_MS: String(600_000) });
    const marker = await second.waitFor(IN_TX_MARKER, 90_000);
    const info = JSON.parse(marker.slice(IN_TX_MARKER.length + 1)) as { rows: number };
    assert.ok(info.rows > 0, 'the killed transaction had copied rows');
    await kill(second);
    for (const [table, n] of [
      ['customers', a.customers.length],
      ['orders', a.orders.length],
      ['order_items', a.items.length],
      ['products', a.products.length],
    ] as const) {
      assert.equal(
        (await client.query(`select count(*)::int as n from "${schemas.bronze}".${table}`)).rows[0].n,
        n,
        `bronze.${table}: nothing of the killed transaction is visible`,
      );
    }
    await assertMartsMatchFacts(client, schemas.gold);

    // 3. Phase C, and a clean run to the end.
    await producer.send(c);
    const third = run({ SLUICE_TEST_COMMIT_INTERVAL_MS: '200' });
    await third.waitFor(READY_MARKER, 60_000);
    await eventually(
      () => offsetsAtEnds(client, kafka, topicPrefix, schemaPrefix),
      'all phases in the warehouse',
      120_000,
    );
    await assertTablesMatch(client, schemaPrefix, [a, b, c]);
    // The marts committed with the facts: the killed transaction left no half-maintained group.
    await assertMartsMatchFacts(client, schemas.gold);

    // Rows committed before the crashes and not changed since were never rewritten by a replay.
    const untouched = (
      await client.query(
        `select order_id, xmin::text as xmin from "${schemas.silver}".orders where order_id > 30 and order_id <= 100 order by order_id`,
      )
    ).rows;
    assert.deepEqual(untouched, versionsAfterA, 'silver.orders rows of phase A keep their row version');
    const {
      rows: [dupes],
    } = await client.query(
      `select count(*)::int as n, count(distinct (_topic, _partition, _offset))::int as d from "${schemas.bronze}".orders`,
    );
    assert.equal(dupes.n, dupes.d);

    third.proc.kill('SIGTERM');
    assert.equal(await third.exited, 0, 'graceful stop after the restart');
  } finally {
    for (const ch of children) if (ch.proc.exitCode === null && ch.proc.signalCode === null) await kill(ch);
    await close();
    await dropWarehouse(client, schemaPrefix);
    await client.end();
  }
});

test('an existing table evolves additively: a new field becomes a nullable column, comments follow the docs', async () => {
  const cfg = await realStack();
  const schema = uniqueName('it_evolve');
  const client = warehouseClient(cfg);
  await client.connect();
  const full = loadSchema('silver.orders') as unknown as { fields: { name: string }[] };
  const older = { ...full, fields: full.fields.filter((f) => f.name !== 'currency') };
  const ctx = { topology: 'it', schemaIds: new Map<string, number>(), schemaFor: (n: string) => loadType(n) };
  const connection = pgConnection(cfg, cfg.warehouseDatabase);
  const ack = (): Ack & { done: Promise<void> } => {
    let resolve!: () => void, reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { done, retain() {}, release: () => resolve(), fail: (e) => reject(e) };
  };
  const out = (value: Order, offset: number): Output & { ack: ReturnType<typeof ack> } => {
    const a = ack();
    return {
      topic: 'x',
      key: String(value.order_id),
      value,
      acks: [a],
      ack: a,
      timestamp: T0,
      source: {
        topic: 'it.orders',
        partition: 0,
        offset: String(offset),
        key: null,
        value: null,
        headers: {},
        timestamp: T0,
      },
    };
  };
  // Loads are announced to the process (sluice run nudges its warehouse tests with them).
  const loads: string[][] = [];
  const offLoads = onWarehouseBatchCommitted((tables) => loads.push(tables));
  try {
    const v1 = createWarehouseSinkConnector(
      parseWarehouseSinkConfig({
        avroSchema: older as never,
        schema,
        table: 'orders',
        mode: 'upsert',
        keyColumns: ['order_id'],
        orderingColumn: 'updated_at',
        connection,
        lingerMs: 10,
      }),
      ctx,
    );
    await v1.connect();
    const o1 = out(order(1, T0, 'paid'), 0);
    v1.add(o1);
    await o1.ack.done;
    await v1.close(5000);
    assert.deepEqual(loads, [[`${schema}.orders`]], 'the committed load batch was announced with its table');

    const v2 = createWarehouseSinkConnector(
      parseWarehouseSinkConfig({
        avroSchema: 'silver.orders',
        schema,
        table: 'orders',
        mode: 'upsert',
        keyColumns: ['order_id'],
        orderingColumn: 'updated_at',
        connection,
        lingerMs: 10,
      }),
      ctx,
    );
    await v2.connect();
    const o2 = out(order(2, T0, 'paid'), 1);
    v2.add(o2);
    await o2.ack.done;
    await v2.close(5000);

    const { rows: cols } = await client.query(
      `select column_name, is_nullable, col_description(format('%I.%I', table_schema, table_name)::regclass, ordinal_position) as doc from information_schema.columns where table_schema = $1 and table_name = 'orders' and column_name in ('currency', 'status')  order by column_name`,
      [schema],
    );
    assert.deepEqual(
      cols.map((c) => [c.column_name, c.is_nullable]),
      [
        ['currency', 'YES'],
        ['status', 'NO'],
      ],
    );
    assert.match(cols[0].doc, /ISO 4217/);
    const { rows } = await client.query(`select order_id, currency from "${schema}".orders order by order_id`);
    assert.deepEqual(rows, [
      { order_id: 1, currency: null },
      { order_id: 2, currency: 'EUR' },
    ]);
    assert.deepEqual(v2.stats.rows, 1);
  } finally {
    offLoads();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.query(`delete from "${OFFSETS_SCHEMA}"."${OFFSETS_TABLE}" where sink = $1`, [`${schema}.orders`]);
    await client.end();
  }
});
