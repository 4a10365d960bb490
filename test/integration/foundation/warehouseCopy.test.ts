import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pgConnection } from '../../../src/config/config.ts';
import { realStack, uniqueName } from '../../support/stack.ts';

test('100,000 rows go into the warehouse through COPY and are counted', async () => {
  const cfg = await realStack();
  const client = new pg.Client(pgConnection(cfg, cfg.warehouseDatabase));
  await client.connect();
  const table = uniqueName('it_copy');
  await client.query(
    `create table ${table} (id bigint primary key, name text not null, amount numeric(12,2) not null)`,
  );
  const total = 100_000;
  // Large chunks: pg-copy-streams is slow with many tiny writes.
  function* chunks() {
    for (let start = 0; start < total; start += 10_000) {
      let s = '';
      for (let i = start; i < start + 10_000; i++) s += `${i}\tname\\t${i}\t${(i % 1000) / 100}\n`;
      yield s;
    }
  }
  await pipeline(Readable.from(chunks()), client.query(copyFrom(`copy ${table} (id, name, amount) from stdin`)));
  const { rows } = await client.query(
    `select count(*)::int as n, sum(amount)::text as s, min(name) as name from ${table}`,
  );
  assert.equal(rows[0].n, total);
  assert.equal(
    rows[0].s,
    String(Array.from({ length: total }, (_, i) => i % 1000).reduce((a, b) => a + b, 0) / 100) + '.00',
  );
  assert.match(rows[0].name, /^name\t\d+$/, 'COPY text escaping round-trips a tab');
  await client.query(`drop table ${table}`);
  await client.end();
});
