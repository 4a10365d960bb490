import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPostgresCdcSource } from '../../../connectors/postgres/cdc/source.ts';
import { eventually } from '../../support/stack.ts';
import { byKey, withCdcFixture } from './cdcFixture.ts';

/**
 * The CDC source against the real stack: snapshot then stream, every op with its key, per-key
 * order, tombstones after deletes, full row images on deletes, the extract's value encoding, and
 * a long transaction published only after its commit.
 */

test('snapshot (op r), then c, u, d + tombstone in commit order per key, keyed by primary key', async () => {
  await withCdcFixture(async (f) => {
    await f.sql(`insert into customers (customer_id, email, full_name, country) values
      (1, 'a@x.io', 'Ann', 'DE'), (2, 'b@x.io', 'Bob', 'FR'), (3, null, 'Cy', 'IT')`);
    await f.sql(
      `insert into products (product_id, sku, name, category, price) values (10, 'S10', 'Lamp', 'home', 12.3)`,
    );
    const cdc = createPostgresCdcSource(f.cfg, f.input);
    try {
      await cdc.start();
      await f.sql(`insert into customers (customer_id, email, full_name, country) values (4, 'd@x.io', 'Dee', 'ES')`);
      await f.sql(`update customers set full_name = 'Ann v1' where customer_id = 1`);
      await f.sql('begin');
      await f.sql(`update customers set full_name = 'Ann v2' where customer_id = 1`);
      await f.sql(`delete from customers where customer_id = 2`);
      await f.sql(`update products set price = 99.95 where product_id = 10`);
      await f.sql('commit');
      const afterWrites = await f.currentLsn();
      // 3 snapshot + 1 insert + 2 updates + delete and its tombstone
      await eventually(async () => (await f.count('customers')) >= 8, 'all customer changes', 60_000);
      await eventually(async () => (await f.count('products')) >= 2, 'both product records', 60_000);
      const customers = byKey(await f.events('customers'));
      const ops = (k: string) => customers.get(k)!.map((e) => (e.value === null ? 'tombstone' : e.value.op));
      assert.deepEqual(ops('1'), ['r', 'u', 'u']);
      assert.deepEqual(
        customers.get('1')!.map((e) => e.value!.full_name),
        ['Ann', 'Ann v1', 'Ann v2'],
      );
      assert.deepEqual(ops('2'), ['r', 'd', 'tombstone']);
      assert.deepEqual(ops('3'), ['r']);
      assert.deepEqual(ops('4'), ['c']);
      assert.equal(customers.size, 4);
      // A delete carries the whole last row image (REPLICA IDENTITY FULL), and its tombstone the same key.
      const [, deleted, tombstone] = customers.get('2')!;
      assert.equal(deleted.value!.email, 'b@x.io');
      assert.equal(deleted.value!.full_name, 'Bob');
      assert.equal(tombstone.partition, deleted.partition);
      // One key, one partition: commit order per key is the topic order.
      for (const [key, events] of customers) assert.equal(new Set(events.map((e) => e.partition)).size, 1, key);
      // Changes of one transaction share its commit LSN, numbered in statement order.
      const txn = [customers.get('1')![2], customers.get('2')![1]];
      assert.equal(txn[0].lsn, txn[1].lsn);
      assert.ok(txn[0].seq < txn[1].seq);
      assert.equal(customers.get('3')![0].value!.email, null);

      // The extract's encoding: decimal strings, epoch milliseconds truncated.
      const products = (await f.events('products')).map((e) => e.value!);
      assert.deepEqual(
        products.map((p) => [p.op, p.price]),
        [
          ['r', '12.30'],
          ['u', '99.95'],
        ],
      );
      const [db] = await f.sql(
        `select floor(extract(epoch from updated_at) * 1000)::bigint::text as u,
                floor(extract(epoch from created_at) * 1000)::bigint::text as c from products where product_id = 10`,
      );
      assert.equal(products[1].updated_at, Number(db.u));
      assert.equal(products[1].created_at, Number(db.c));

      // The slot is confirmed past every acknowledged change.
      await eventually(async () => (await f.confirmedFlush()) >= afterWrites, 'the slot confirmed past the writes');
    } finally {
      await cdc.stop();
    }
  });
});

test('a long transaction: none of its rows is published before the commit, all of them after it', async () => {
  await withCdcFixture(async (f) => {
    const cdc = createPostgresCdcSource(f.cfg, { ...f.input, batchRecords: 500 });
    try {
      await cdc.start();
      const rows = 3000;
      await f.other.query('begin');
      await f.other.query(
        `insert into customers (customer_id, email, full_name, country)
         select g, 'c' || g || '@x.io', 'name ' || g, 'DE' from generate_series(1, $1) g`,
        [rows],
      );
      // A change committed while the long one is open gets through: the stream is past it...
      await f.sql(`insert into products (product_id, sku, name, category, price) values (1, 'S1', 'Pen', 'office', 1)`);
      await eventually(async () => (await f.count('products')) >= 1, 'the marker change');
      // ...and nothing of the open transaction is out.
      assert.equal(await f.count('customers'), 0);
      await f.other.query(`update customers set full_name = 'renamed' where customer_id = 1`);
      await f.other.query('commit');
      await eventually(async () => (await f.count('customers')) >= rows + 1, 'every row of the transaction', 120_000);
      const events = await f.events('customers');
      assert.equal(events.length, rows + 1);
      assert.equal(new Set(events.map((e) => e.key)).size, rows);
      assert.equal(new Set(events.map((e) => e.lsn)).size, 1, 'one transaction, one commit LSN');
      assert.deepEqual(
        byKey(events)
          .get('1')!
          .map((e) => [e.value!.op, e.value!.full_name]),
        [
          ['c', 'name 1'],
          ['u', 'renamed'],
        ],
      );
    } finally {
      await cdc.stop();
    }
  });
});
