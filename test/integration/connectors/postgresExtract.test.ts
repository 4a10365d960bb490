import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pgConnection, type Config } from '../../../src/config/config.ts';
import { createKafkaClient, type KafkaClient } from '../../../src/kafka/createKafkaClient.ts';
import { ensureTopics } from '../../../src/kafka/ensureTopics.ts';
import {
  applyOltpDdl,
  dropDatabase,
  ensureDatabase,
  OLTP_PRIMARY_KEYS,
  OLTP_TABLES,
  type OltpTable,
} from '../../../src/shop/oltp/oltpDdl.ts';
import { runOltpActivity } from '../../../src/shop/generate/oltp/runOltpActivity.ts';
import { seedOltp } from '../../../src/shop/generate/oltp/seedOltp.ts';
import { createAvroSerde, type AvroSerde } from '../../../src/serde/avroSerde.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { extractOnce, type ExtractOptions } from '../../../connectors/postgres/extract/source.ts';
import type { ExtractResult } from '../../../connectors/postgres/extract/extractResult.ts';
import { readPositions } from '../../../connectors/postgres/extract/positions.ts';
import { startExtractSchedule } from '../../../connectors/postgres/extract/schedule.ts';
import { eventually, realStack, uniqueName } from '../../support/stack.ts';

/**
 * The Postgres incremental source against the real stack: a throwaway OLTP database per test,
 * topics and positions under a unique prefix, events read back from Kafka and compared row by
 * row with the source tables.
 */

interface Fixture {
  cfg: Config;
  database: string;
  kafka: KafkaClient;
  serde: AvroSerde;
  options: ExtractOptions;
  topic(table: OltpTable): string;
  /** Unique prefix of this test's topics; topics made under it are deleted at the end. */
  prefix: string;
  sql(text: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
}

async function withFixture(pageSize: number, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const cfg = await realStack();
  const database = uniqueName('oltp_x').toLowerCase();
  const prefix = uniqueName('it_extract');
  const topics = OLTP_TABLES.map((t) => `${prefix}.oltp.${t}`);
  const positionsTopic = `${prefix}.extract.positions`;
  await ensureDatabase(cfg, database);
  const client = new pg.Client(pgConnection(cfg, database));
  await client.connect();
  const kafka = createKafkaClient(cfg, 'it-extract');
  const admin = kafka.admin();
  await admin.connect();
  const registry = createRegistryClient(cfg);
  try {
    await applyOltpDdl(client);
    await ensureTopics(
      admin,
      [...topics.map((topic) => ({ topic, partitions: 3 })), { topic: positionsTopic, partitions: 3, compacted: true }],
      { partitions: 3, replicationFactor: 1 },
    );
    await fn({
      cfg,
      database,
      kafka,
      serde: createAvroSerde(registry, { maxMessageBytes: cfg.maxMessageBytes }),
      options: { database, topicPrefix: `${prefix}.oltp.`, positionsTopic, pageSize },
      topic: (table) => `${prefix}.oltp.${table}`,
      prefix,
      sql: async (text, values) => (await client.query(text, values)).rows,
    });
  } finally {
    await client.end().catch(() => {});
    await dropDatabase(cfg, database).catch(() => {});
    const mine = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.startsWith(`${prefix}.`));
    await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.disconnect();
    for (const subject of (await registry.subjects().catch(() => [] as string[])).filter((x) =>
      x.startsWith(`${prefix}.`),
    ))
      await registry.deleteSubject(subject);
  }
}

interface Event {
  key: string;
  value: Record<string, unknown>;
  partition: number;
  offset: bigint;
}

/** Every record of a topic up to its current end, decoded, in partition order. */
async function readTopic(f: Fixture, topic: string): Promise<Event[]> {
  const admin = f.kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  await admin.disconnect();
  const events: Event[] = [];
  if ([...ends.values()].every((h) => h === 0n)) return events;
  const next = new Map<number, bigint>();
  const consumer = f.kafka.raw.consumer({
    groupId: `it-extract-read-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done = false;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const offset = BigInt(m.offset);
        if (offset >= ends.get(batch.partition)!) continue;
        const { value } = await f.serde.decode(m.value);
        events.push({
          key: m.key!.toString(),
          value: value as Record<string, unknown>,
          partition: batch.partition,
          offset,
        });
        next.set(batch.partition, offset + 1n);
      }
      if ([...ends].every(([p, high]) => (next.get(p) ?? 0n) >= high)) {
        // Paused before the next fetch: disconnecting then skips a 5 s long poll.
        consumer.pause([{ topic }]);
        done = true;
      }
    },
  });
  await eventually(async () => done, `reading ${topic} to its end`, 30_000);
  await consumer.disconnect();
  return events;
}

/** Latest event per key (a key always hashes to one partition, so offset order is change order). */
function latestByKey(events: Event[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const e of [...events].sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : 1)))
    out.set(e.key, e.value);
  return out;
}

const ms = (d: unknown) => (d as Date).getTime();

/** The source rows as the events must carry them, computed independently of the extractor (pg's Date parsing). */
async function sourceRows(f: Fixture, table: OltpTable): Promise<Map<string, Record<string, unknown>>> {
  const pk = OLTP_PRIMARY_KEYS[table];
  const rows = await f.sql(`select * from ${table} order by ${pk}`);
  const out = new Map<string, Record<string, unknown>>();
  for (const r of rows) {
    let v: Record<string, unknown>;
    switch (table) {
      case 'customers':
        v = {
          customer_id: Number(r.customer_id),
          email: r.email,
          full_name: r.full_name,
          country: r.country,
          created_at: ms(r.created_at),
          updated_at: ms(r.updated_at),
        };
        break;
      case 'products':
        v = {
          product_id: Number(r.product_id),
          sku: r.sku,
          name: r.name,
          category: r.category,
          price: r.price,
          active: r.active,
          created_at: ms(r.created_at),
          updated_at: ms(r.updated_at),
        };
        break;
      case 'orders':
        v = {
          order_id: Number(r.order_id),
          customer_id: Number(r.customer_id),
          status: r.status,
          total_amount: r.total_amount,
          currency: r.currency,
          ordered_at: ms(r.ordered_at),
          updated_at: ms(r.updated_at),
        };
        break;
      case 'order_items':
        v = {
          order_item_id: Number(r.order_item_id),
          order_id: Number(r.order_id),
          product_id: Number(r.product_id),
          quantity: r.quantity,
          unit_price: r.unit_price,
          updated_at: ms(r.updated_at),
        };
        break;
    }
    out.set(String(r[pk]), v);
  }
  return out;
}

/** Every source row is on its topic with equal values (latest image per key), and nothing else is. */
async function assertTopicsEqualSource(f: Fixture): Promise<void> {
  for (const table of OLTP_TABLES) {
    const expected = await sourceRows(f, table);
    const actual = latestByKey(await readTopic(f, f.topic(table)));
    assert.equal(actual.size, expected.size, `${table}: keys on the topic`);
    for (const [key, row] of expected) {
      const event = actual.get(key);
      assert.ok(event, `${table} ${key} is on the topic`);
      const { op, extracted_at, ...image } = event;
      assert.deepEqual(image, row, `${table} ${key} equals the source row`);
      assert.ok(op === 'c' || op === 'u' || op === 'r');
      assert.equal(typeof extracted_at, 'number');
    }
  }
}

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

async function lastRowPosition(f: Fixture, table: OltpTable): Promise<{ updated_at: string; id: string }> {
  const pk = OLTP_PRIMARY_KEYS[table];
  const [r] = await f.sql(
    `select to_char(updated_at at time zone 'UTC', ${ISO_US}) as ts, ${pk}::text as id from ${table} order by updated_at desc, ${pk} desc limit 1`,
  );
  return { updated_at: r.ts as string, id: r.id as string };
}

async function endOffsets(f: Fixture): Promise<number> {
  const admin = f.kafka.admin();
  await admin.connect();
  let n = 0;
  for (const t of OLTP_TABLES) for (const p of await admin.fetchTopicOffsets(f.topic(t))) n += Number(p.high);
  await admin.disconnect();
  return n;
}

const counts = (r: ExtractResult) => Object.fromEntries(Object.values(r.tables).map((t) => [t.table, t.rows]));

test('a first extract publishes every row of the four tables as a snapshot, equal to the source and keyed by primary key; positions are stored; a re-run without changes publishes nothing', async () => {
  await withFixture(500, async (f) => {
    const seeded = await seedOltp(f.cfg, {
      customers: 500,
      products: 100,
      orders: 2000,
      database: f.database,
      progress: false,
      seed: 'extract-it',
    });
    const progress: string[] = [];
    const first = await extractOnce(f.cfg, {
      ...f.options,
      onProgress: (p) => {
        if (p.done) progress.push(`${p.table}:${p.rows}`);
      },
    });
    assert.deepEqual(counts(first), { customers: 500, products: 100, orders: 2000, order_items: seeded.orderItems });
    assert.deepEqual(progress, [`customers:500`, `products:100`, `orders:2000`, `order_items:${seeded.orderItems}`]);
    for (const t of Object.values(first.tables)) {
      assert.equal(t.mode, 'snapshot');
      assert.equal(t.heldBack, 0, `${t.table}: nothing was in flight`);
      assert.deepEqual(t.position, await lastRowPosition(f, t.table), `${t.table}: position is the last row`);
    }
    assert.equal(first.tables.order_items.batches, Math.ceil(seeded.orderItems / 500));

    // Exactly once on the first run, every event a snapshot read, each keyed by its primary key.
    for (const table of OLTP_TABLES) {
      const events = await readTopic(f, f.topic(table));
      assert.equal(events.length, first.tables[table].rows, `${table}: one event per row`);
      assert.ok(events.every((e) => e.value.op === 'r' && String(e.value[OLTP_PRIMARY_KEYS[table]]) === e.key));
    }
    await assertTopicsEqualSource(f);

    // The positions topic holds what the run reported, readable by a fresh reader.
    const stored = await readPositions(f.kafka, f.options.positionsTopic!);
    for (const t of Object.values(first.tables)) assert.deepEqual(stored.get(t.table), t.position);

    // Nothing changed: nothing is published, positions stay.
    const before = await endOffsets(f);
    const second = await extractOnce(f.cfg, f.options);
    assert.deepEqual(counts(second), { customers: 0, products: 0, orders: 0, order_items: 0 });
    for (const t of Object.values(second.tables)) {
      assert.equal(t.mode, 'incremental');
      assert.deepEqual(t.position, first.tables[t.table].position);
    }
    assert.equal(await endOffsets(f), before);

    // --full re-reads everything as snapshot reads; --since only what changed from then on.
    const full = await extractOnce(f.cfg, { ...f.options, tables: ['products'], full: true });
    assert.equal(full.tables.products.rows, 100);
    await f.sql(`update products set price = price + 1 where product_id <= 7`);
    const [{ ts }] = await f.sql(`select min(updated_at) as ts from products where product_id <= 7`);
    const since = await extractOnce(f.cfg, { ...f.options, tables: ['products'], since: (ts as Date).toISOString() });
    assert.equal(since.tables.products.mode, 'since');
    assert.equal(since.tables.products.rows, 7);
    await assertTopicsEqualSource(f);
  });
});

test('rows sharing one updated_at across page boundaries, concurrent writes and a late-committing transaction all arrive (regression: kafka-connect-jdbc #172, #915)', async () => {
  await withFixture(50, async (f) => {
    await seedOltp(f.cfg, {
      customers: 200,
      products: 60,
      orders: 300,
      database: f.database,
      progress: false,
      seed: 'extract-it-2',
    });
    const initial = await extractOnce(f.cfg, f.options);
    assert.equal(initial.tables.customers.rows, 200);

    // 1. 120 customer updates and 75 new products with ONE updated_at (now(): the transaction
    //    start), spanning three pages of 50. The trigger would stamp clock_timestamp() per row,
    //    so it is disabled for the update inside the same transaction.
    const insertSame =
      "insert into products (sku, name, category, price, updated_at) select 'SAME-' || g, 'Same ' || g, " +
      "'books', 9.99, now() from generate_series(1, 75) g;";
    await f.sql(`begin;
      alter table customers disable trigger customers_touch;
      update customers set full_name = full_name || ' v2', updated_at = now() where customer_id <= 120;
      alter table customers enable trigger customers_touch;
      ${insertSame}
      commit;`);
    const [{ ts: sameTs }] = await f.sql(
      `select to_char(max(updated_at) at time zone 'UTC', ${ISO_US}) as ts from customers`,
    );
    const [{ n: sharing }] = await f.sql(
      `select count(*)::int as n from customers where to_char(updated_at at time zone 'UTC', ${ISO_US}) = $1`,
      [sameTs],
    );
    assert.equal(sharing, 120);
    const equal = await extractOnce(f.cfg, f.options);
    assert.equal(equal.tables.customers.rows, 120, 'every row sharing the timestamp, once');
    assert.equal(equal.tables.customers.batches, 3);
    assert.equal(equal.tables.products.rows, 75);
    assert.equal(equal.tables.products.batches, 2);
    assert.deepEqual(equal.tables.customers.position, await lastRowPosition(f, 'customers'));
    await assertTopicsEqualSource(f);

    // 2. Extracts running while the shop writes: new orders, transitions, customer and price updates.
    const activity = runOltpActivity(f.cfg, {
      rate: 400,
      durationMs: 2500,
      database: f.database,
      seed: 'extract-it-activity',
      progress: false,
    });
    let during = 0;
    let running = true;
    void activity.finally(() => {
      running = false;
    });
    while (running) during += (await extractOnce(f.cfg, f.options)).rows;
    const done = await activity;
    assert.ok(done.total > 100, `activity made changes (${done.total})`);
    assert.ok(during > 0, 'extracts during the activity published rows');
    // Rows the last run held back behind the activity's open transactions come now.
    await extractOnce(f.cfg, f.options);
    await assertTopicsEqualSource(f);

    // 3. A late-committing transaction: its row gets an updated_at older than rows committed after it.
    // A control extractor that trusts the newest timestamp it saw (no hold-back), into its own topics.
    const naive: ExtractOptions = {
      database: f.database,
      tables: ['orders'],
      pageSize: 50,
      watermark: 'safety-lag',
      safetyLagMs: 0,
      topicPrefix: `${f.prefix}.naive.`,
      positionsTopic: `${f.prefix}.naive.positions`,
    };
    await extractOnce(f.cfg, naive);
    const naiveOrders = async () => latestByKey(await readTopic(f, `${f.prefix}.naive.orders`));

    const late = new pg.Client(pgConnection(f.cfg, f.database));
    await late.connect();
    try {
      await late.query('begin');
      const [{ pid, started }] = (
        await late.query(`select pg_backend_pid() as pid, to_char(now() at time zone 'UTC', ${ISO_US}) as started`)
      ).rows;
      await late.query(`update orders set status = 'late_status' where order_id = 5`);
      const lateCustomer = (
        await late.query(
          `insert into customers (email, full_name, country) values ('late@shop.test', 'Late Writer', 'DE') returning customer_id::text as id`,
        )
      ).rows[0].id as string;
      const [{ ts: lateTs }] = (
        await late.query(
          `select to_char(updated_at at time zone 'UTC', ${ISO_US}) as ts from orders where order_id = 5`,
        )
      ).rows;
      // Committed after the late row was stamped, so with later timestamps.
      await f.sql(`update orders set status = 'paid' where order_id between 10 and 19`);
      await f.sql(
        `insert into customers (email, full_name, country) values ('early@shop.test', 'Early Committer', 'FR')`,
      );
      const [{ ts: newer }] = await f.sql(
        `select to_char(max(updated_at) at time zone 'UTC', ${ISO_US}) as ts from orders`,
      );
      assert.ok(String(newer) > lateTs, "committed rows are newer than the open transaction's row");

      const naiveWhileOpen = await extractOnce(f.cfg, naive);
      assert.ok(
        naiveWhileOpen.tables.orders.position!.updated_at > lateTs,
        "the control's position passed the open transaction's row",
      );
      const whileOpen = await extractOnce(f.cfg, f.options);
      const orders = whileOpen.tables.orders;
      assert.equal(orders.rows, 10, 'the committed rows are published at once');
      assert.equal(orders.heldBack, 10, 'but the position stays before them');
      assert.deepEqual(orders.blockingTransaction, { pid, xactStart: started });
      assert.ok(
        orders.position!.updated_at < lateTs,
        `position ${orders.position!.updated_at} stays before the open transaction's row ${lateTs}`,
      );
      assert.ok(orders.horizon <= started);
      const stored = await readPositions(f.kafka, f.options.positionsTopic!);
      assert.deepEqual(stored.get('orders'), orders.position);
      assert.notEqual(latestByKey(await readTopic(f, f.topic('orders'))).get('5')?.status, 'late_status');

      await late.query('commit');
      const naiveAfterCommit = await extractOnce(f.cfg, naive);
      assert.equal(naiveAfterCommit.tables.orders.rows, 0);
      assert.notEqual(
        (await naiveOrders()).get('5')?.status,
        'late_status',
        'the control lost the late row: the hazard is real',
      );
      const afterCommit = await extractOnce(f.cfg, f.options);
      assert.equal(afterCommit.tables.orders.heldBack, 0);
      const ordersNow = latestByKey(await readTopic(f, f.topic('orders')));
      assert.equal(ordersNow.get('5')?.status, 'late_status', 'the late row arrived');
      assert.equal(latestByKey(await readTopic(f, f.topic('customers'))).get(lateCustomer)?.full_name, 'Late Writer');
      assert.deepEqual(afterCommit.tables.orders.position, await lastRowPosition(f, 'orders'));
    } finally {
      await late.end();
    }

    // 4. Everything is there, and a run without changes publishes nothing.
    await assertTopicsEqualSource(f);
    const before = await endOffsets(f);
    const idle = await extractOnce(f.cfg, f.options);
    assert.equal(idle.rows, 0);
    assert.equal(await endOffsets(f), before);
  });
});

test('the schedule extracts on its interval, never two runs at once, and stops cleanly', async () => {
  await withFixture(100, async (f) => {
    await seedOltp(f.cfg, {
      customers: 50,
      products: 10,
      orders: 40,
      database: f.database,
      progress: false,
      seed: 'extract-it-3',
    });
    const outcomes: string[] = [];
    const schedule = startExtractSchedule(f.cfg, {
      ...f.options,
      intervalMs: 250,
      onRun: (o) => outcomes.push(o.error ? o.error.code : 'ok'),
    });
    try {
      await eventually(async () => schedule.stats.runs >= 2 && !schedule.stats.running, 'two scheduled runs', 30_000);
      assert.ok(
        outcomes.every((o) => o === 'ok'),
        outcomes.join(', '),
      );
      assert.equal(schedule.stats.failures, 0);
      assert.ok(schedule.stats.lastSuccessAt !== null);
      const seededRows = schedule.stats.rows;

      const [{ id }] = await f.sql(
        `insert into customers (email, full_name, country) values ('sched@shop.test', 'Scheduled', 'NL') returning customer_id::text as id`,
      );
      const a = schedule.runNow();
      const b = schedule.runNow();
      assert.equal(a, b, 'a second request joins the run in progress');
      await a;
      await eventually(async () => schedule.stats.rows > seededRows, 'the new row extracted', 30_000);
      assert.equal(latestByKey(await readTopic(f, f.topic('customers'))).get(id as string)?.op, 'c');
      assert.deepEqual(schedule.stats.positions.customers, await lastRowPosition(f, 'customers'));
    } finally {
      await schedule.stop();
    }
    assert.equal(schedule.stats.running, false);
  });
});
