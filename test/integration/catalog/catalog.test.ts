import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CatalogEntry } from '../../../src/catalog/catalogEntry.ts';
import { type Config, loadConfig, secretOf } from '../../../src/config/config.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { registryHttp } from '../../../src/serde/registryHttp.ts';
import { createRegistryClient } from '../../../src/serde/schemaRegistry.ts';
import { runSluice } from '../../support/cli.ts';

/**
 * `sluice catalog` as a user runs it: on the running stack the schema versions are the registry's
 * and freshness and tables are measured; with every service unreachable it still prints the
 * declared catalog (`--offline` asks nothing; without it each live fact says `unavailable`).
 * Uses the stack as it is (no `dev up`): the catalog only reads.
 */

const DOWN = {
  SLUICE_KAFKA_BROKERS: '127.0.0.1:1',
  SLUICE_REGISTRY_URL: 'http://127.0.0.1:1',
  SLUICE_PG_PORT: '1',
};

let cfg: Config;

const sluice = runSluice;

const byName = (entries: CatalogEntry[], name: string) => {
  const e = entries.find((x) => x.name === name);
  assert.ok(e, `catalog has ${name}`);
  return e;
};

before(async () => {
  cfg = loadConfig();
  // The runner registers it on start; here, so that the test does not depend on an earlier run
  // (an identical schema adds no version).
  await createRegistryClient(cfg).register('silver.orders-value', loadSchema('silver.orders'));
});

test('catalog --json on the stack: versions from the registry, freshness measured, tables looked up', async () => {
  const auth = cfg.registryUsername
    ? { username: cfg.registryUsername, password: secretOf(cfg, 'registryPassword') }
    : undefined;
  const http = registryHttp(cfg.registryUrl.replace(/\/+$/, ''), auth);
  const registered = await http<number[]>('GET', '/subjects/silver.orders-value/versions');
  assert.ok(registered.length >= 1);

  const { code, stdout, stderr } = await sluice(['catalog', '--json']);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as { offline: boolean; entries: CatalogEntry[] };
  assert.equal(out.offline, false);
  const orders = byName(out.entries, 'silver.orders');
  assert.equal(orders.schema.status, 'ok');
  assert.deepEqual(
    orders.schema.versions,
    [...registered].sort((a, b) => a - b),
  );
  assert.ok(['fresh', 'warn', 'breach'].includes(orders.freshness!.state), orders.freshness!.state);
  const fact = byName(out.entries, 'warehouse:gold.fact_orders');
  assert.equal(fact.warehouse?.status, 'ok');
  assert.equal(typeof fact.warehouse?.exists, 'boolean');
  assert.ok(['fresh', 'warn', 'breach'].includes(fact.freshness!.state), fact.freshness!.state);

  const one = await sluice(['catalog', 'silver.orders']);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, new RegExp(`subject silver\\.orders-value: versions ${registered.join(', ')}\\n`));
  assert.match(one.stdout, /upstream: topologies orders; topics oltp\.orders/);
});

test('catalog --offline with every service unreachable: the declared catalog, nothing asked', async () => {
  const started = Date.now();
  const { code, stdout, stderr } = await sluice(['catalog', '--offline', '--json'], DOWN);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as { offline: boolean; entries: CatalogEntry[] };
  assert.equal(out.offline, true);
  const orders = byName(out.entries, 'silver.orders');
  assert.equal(orders.schema.status, 'offline');
  assert.equal(orders.schema.versions, undefined);
  assert.equal(orders.freshness?.state, 'not measured');
  assert.ok(orders.fields.length > 0);
  assert.ok(Date.now() - started < 30_000);
});

test('catalog without --offline and every service unreachable: each live fact unavailable, exit 0', async () => {
  const { code, stdout, stderr } = await sluice(['catalog', '--json'], DOWN);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as { entries: CatalogEntry[] };
  const orders = byName(out.entries, 'silver.orders');
  assert.match(orders.schema.status, /^unavailable: cannot reach the schema registry at 127\.0\.0\.1:1/);
  assert.equal(orders.freshness?.state, 'unavailable');
  assert.match(orders.freshness?.detail ?? '', /cannot reach Kafka/);
  const table = byName(out.entries, 'warehouse:silver.orders');
  assert.match(table.warehouse?.status ?? '', /^unavailable: cannot reach Postgres/);
  assert.equal(table.freshness?.state, 'unavailable');
});
