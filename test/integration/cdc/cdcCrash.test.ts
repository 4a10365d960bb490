import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLsn } from '../../../connectors/postgres/cdc/lsn.ts';
import type { PostgresCdcSourceInput } from '../../../connectors/postgres/cdc/config.ts';
import { eventually } from '../../support/stack.ts';
import { type CdcEvent, withCdcFixture } from './cdcFixture.ts';

/**
 * SIGKILL of the CDC process mid-stream, then a restart: no committed change is lost, and the
 * only records published twice belong to transactions at or after the slot's confirmed LSN at
 * the kill (read from pg_replication_slots once the slot is released).
 */

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cdcChild.ts');

async function startChild(input: PostgresCdcSourceInput): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += String(d);
  });
  await eventually(async () => out.includes('streaming') || child.exitCode !== null, 'the CDC child to stream', 60_000);
  assert.equal(child.exitCode, null, 'the CDC child exited before streaming');
  return child;
}

/** Identity of a change: its table row, its transaction's commit LSN and its place in it. */
const changeId = (e: CdcEvent) => `${e.key}|${e.lsn}|${e.seq}|${e.value === null ? 'tombstone' : e.value.op}`;

test('SIGKILL mid-stream, restart: no committed change lost; duplicates only at/after the confirmed LSN', async (t) => {
  await withCdcFixture(async (f) => {
    const customers = 40;
    await f.sql(
      `insert into customers (customer_id, email, full_name, country)
       select g, 'c' || g || '@x.io', 'v0', 'DE' from generate_series(1, $1) g`,
      [customers],
    );
    // Small produce rounds: many confirmations, so the kill lands between them.
    const input = { ...f.input, batchRecords: 20 };
    let child = await startChild(input);
    const transactions = 600;
    const bigTransaction = 10_000;
    let killedAt: bigint | undefined;
    let changed = 0;
    try {
      for (let i = 1; i <= transactions; i++) {
        // Each transaction renames two customers to a unique version: what must arrive, exactly.
        const r = await f.client.query(`update customers set full_name = $1 where customer_id in ($2, $3)`, [
          `v${i}`,
          (i % customers) + 1,
          ((i * 7) % customers) + 1,
        ]);
        changed += r.rowCount ?? 0;
        if (i === 200) {
          // A long transaction in flight at the kill: some of its records are out, its commit is not confirmed.
          await f.sql(
            `insert into products (product_id, sku, name, category, price)
             select g, 'S' || g, 'P' || g, 'misc', 1 from generate_series(1, $1) g`,
            [bigTransaction],
          );
          await eventually(async () => (await f.count('products')) > 0, 'the long transaction streaming');
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      }
      // The slot is released once the server notices the dead client; its confirmed LSN is then final.
      await eventually(
        async () => !(await f.sql('select active from pg_replication_slots where slot_name = $1', [f.slot]))[0].active,
        'the killed stream to release the slot',
        90_000,
      );
      killedAt = await f.confirmedFlush();
      child = await startChild(input);
      const expected = customers + changed;
      await eventually(async () => (await f.count('customers')) >= expected, 'every change after the restart', 120_000);
      await eventually(async () => (await f.count('products')) >= bigTransaction, 'the long transaction', 120_000);
      const afterWrites = await f.currentLsn();
      await eventually(async () => (await f.confirmedFlush()) >= afterWrites, 'the slot confirmed past the writes');
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
    const products = await f.events('products');
    assert.equal(new Set(products.map((e) => e.key)).size, bigTransaction);
    const events = [...(await f.events('customers')), ...products];
    // No loss: every version written is in the topic.
    const versions = new Set(
      events.filter((e) => e.value?.op === 'u' && e.value.sku === undefined).map((e) => e.value!.full_name),
    );
    for (let i = 1; i <= transactions; i++) assert.ok(versions.has(`v${i}`), `version v${i} is missing`);
    // Duplicates only at or after the confirmed LSN at the kill; before it, exactly once.
    const seen = new Map<string, number>();
    for (const e of events) seen.set(changeId(e), (seen.get(changeId(e)) ?? 0) + 1);
    const before = events.filter((e) => e.lsn < killedAt!);
    const duplicated = events.filter((e) => seen.get(changeId(e))! > 1);
    t.diagnostic(
      `confirmed at kill ${formatLsn(killedAt!)}: ${events.length} records, ${before.length} below it, ` +
        `${duplicated.length} in duplicated changes`,
    );
    assert.ok(before.length > customers, `the kill came after confirmed progress (confirmed ${formatLsn(killedAt!)})`);
    assert.ok(
      events.some((e) => e.lsn >= killedAt!),
      'changes after the kill point were published by the restart',
    );
    assert.ok(duplicated.length > 0, 'the kill came while a transaction was partly published');
    for (const e of before)
      assert.equal(seen.get(changeId(e)), 1, `published twice below the confirmed LSN: ${changeId(e)}`);
    for (const e of duplicated) assert.ok(e.lsn >= killedAt!, `duplicate below the confirmed LSN: ${changeId(e)}`);
    // Per key, the first occurrences of the versions are in commit order.
    const lastVersion = new Map<string, number>();
    for (const e of events) {
      if (e.value?.op !== 'u') continue;
      const v = Number(String(e.value.full_name).slice(1));
      if (seen.get(changeId(e))! > 1 && v <= (lastVersion.get(e.key) ?? 0)) continue; // a replayed duplicate
      assert.ok(v > (lastVersion.get(e.key) ?? 0), `customer ${e.key}: v${v} after v${lastVersion.get(e.key)}`);
      lastVersion.set(e.key, v);
    }
  });
});
