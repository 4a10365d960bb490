import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildCatalog, type CatalogInputs } from '../../../src/catalog/buildCatalog.ts';
import type { CatalogEntry } from '../../../src/catalog/catalogEntry.ts';
import { formatCatalogEntry } from '../../../src/catalog/formatCatalog.ts';
import { findEntry } from '../../../src/cli/catalogCommand.ts';
import { SCHEMAS_DIR, loadSchema } from '../../../src/domain/schemas.ts';
import { DEFAULT_FRESHNESS_SLAS } from '../../../src/quality/freshnessSlas.ts';
import { medallionTables } from '../../../src/shop/warehouseModel.ts';
import { MART_DEFINITIONS } from '../../../src/shop/martDefinitions.ts';
import { WAREHOUSE_TESTS, testName } from '../../../src/shop/warehouseTests.ts';
import { defineTopology } from '../../../src/topology/defineTopology.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';

const shipped: CatalogInputs = {
  topologies: Object.values(TOPOLOGIES),
  tables: medallionTables(),
  tests: WAREHOUSE_TESTS,
  slas: DEFAULT_FRESHNESS_SLAS,
};
const catalog = buildCatalog(shipped);
const entry = (name: string): CatalogEntry => {
  const e = catalog.find((x) => x.name === name);
  assert.ok(e, `catalog has ${name}`);
  return e;
};
const names = (links: CatalogEntry['upstream'], kind: string) =>
  links.filter((l) => l.kind === kind).map((l) => l.name);

test('silver.orders: written by the orders topology from oltp.orders, feeding its warehouse tables and the lake', () => {
  const e = entry('silver.orders');
  assert.equal(e.kind, 'topic');
  assert.deepEqual(names(e.upstream, 'topology'), ['orders']);
  assert.deepEqual(names(e.upstream, 'topic'), ['oltp.orders']);
  assert.deepEqual(names(e.downstream, 'topology').sort(), ['lake', 'metrics', 'warehouse']);
  assert.deepEqual(names(e.downstream, 'table'), [
    'warehouse:bronze.orders',
    'warehouse:silver.orders',
    'warehouse:gold.fact_orders',
  ]);
  assert.deepEqual(names(e.downstream, 'sink'), ['lake.staging.silver.orders']);
  assert.deepEqual(e.owner, TOPOLOGIES.orders.owner);
  assert.equal(e.ownerTopology, 'orders');
  assert.equal(e.schema.subject, 'silver.orders-value');
  assert.equal(e.freshness?.subject, 'silver.orders');
  assert.equal(e.freshness?.warnAfterSeconds, 15 * 60);
  assert.deepEqual(e.quality.dlq, ['silver.orders.dlq', 'silver.orders.lake-errors', 'silver.orders.warehouse-errors']);
});

test('oltp.orders: no topology writes it (no owner); read by orders with its own rules only, and by the lake', () => {
  const e = entry('oltp.orders');
  assert.equal(e.owner, null);
  assert.deepEqual(e.upstream, []);
  assert.ok(names(e.downstream, 'topic').includes('silver.orders'));
  assert.ok(!names(e.downstream, 'topic').includes('silver.order_items'));
  assert.deepEqual(
    e.quality.rules.map((r) => r.split(':')[0]),
    ['order_amount_non_negative', 'order_status_known', 'order_customer_exists'],
  );
  assert.deepEqual(e.quality.dlq, ['oltp.orders.dlq', 'oltp.orders.lake-errors']);
});

test('field docs are the .avsc docs, field by field', () => {
  for (const [topic, file] of [
    ['silver.orders', 'oltp.orders.avsc'],
    ['web.clickstream', 'web.clickstream.avsc'],
    ['metrics.funnel_5m', 'metrics.funnel_5m.avsc'],
  ]) {
    const avsc = JSON.parse(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')) as {
      doc: string;
      fields: { name: string; doc?: string }[];
    };
    const e = entry(topic);
    assert.deepEqual(
      e.fields.map((f) => [f.name, f.doc]),
      avsc.fields.map((f) => [f.name, f.doc]),
      topic,
    );
    assert.equal(e.description, avsc.doc);
  }
  assert.equal(entry('silver.orders').fields.find((f) => f.name === 'total_amount')?.type, 'decimal(12,2)');
  assert.equal(entry('silver.orders').fields.find((f) => f.name === 'op')?.type, 'enum(c, u, r, d)');
});

test('every shipped topology declares an owner, and every topic it writes carries it', () => {
  let checked = 0;
  for (const def of Object.values(TOPOLOGIES)) {
    assert.ok(def.owner?.team, `topology ${def.name} has an owner`);
    for (const o of def.outputs.filter((x) => !x.sink && !x.raw)) {
      assert.deepEqual(entry(o.topic).owner, def.owner, o.topic);
      assert.equal(entry(o.topic).ownerTopology, def.name, o.topic);
      checked++;
    }
  }
  assert.ok(checked >= 10, `${checked} topics checked`);
  for (const t of catalog.filter((e) => e.kind === 'table')) assert.deepEqual(t.owner, TOPOLOGIES.warehouse.owner);
});

test('DLQs, repartition topics and changelogs are no entries; every warehouse table and mart is one', () => {
  for (const e of catalog) {
    assert.ok(!/\.dlq$|-errors$|\.errors$|^sluice\./.test(e.name), `${e.name} is internal`);
  }
  assert.deepEqual(
    catalog.filter((e) => e.kind === 'table').map((e) => e.name),
    [
      ...medallionTables().map((t) => `warehouse:${t.sink.schema}.${t.sink.table}`),
      ...MART_DEFINITIONS.map((d) => `warehouse:gold.${d.table}`),
    ],
  );
});

test('a mart: computed from the gold tables it names, its columns and tests, and downstream of those tables', () => {
  const mart = entry('warehouse:gold.mart_revenue_daily');
  assert.deepEqual(names(mart.upstream, 'table'), [
    'warehouse:gold.fact_orders',
    'warehouse:gold.fact_order_items',
    'warehouse:gold.dim_products',
  ]);
  assert.equal(mart.owner?.team, entry('warehouse:gold.fact_orders').owner?.team);
  assert.equal(mart.fields.find((f) => f.name === 'revenue')?.type, 'numeric(14,2) not null');
  const declared = WAREHOUSE_TESTS.filter((t) => t.table === 'mart_revenue_daily').map(testName);
  assert.ok(declared.length > 0);
  assert.deepEqual(mart.quality.tests, declared);
  assert.ok(names(entry('warehouse:gold.fact_order_items').downstream, 'table').includes(mart.name));
  assert.ok(!names(entry('warehouse:gold.dim_products').downstream, 'table').includes('warehouse:gold.mart_customers'));
});

test('a table: its writer and input, its columns with comments, the warehouse tests declared on it', () => {
  const e = entry('warehouse:gold.fact_orders');
  assert.deepEqual(names(e.upstream, 'topology'), ['warehouse']);
  assert.deepEqual(names(e.upstream, 'topic'), ['silver.orders']);
  const declared = WAREHOUSE_TESTS.filter((t) => t.layer === 'gold' && t.table === 'fact_orders').map(testName);
  assert.ok(declared.length > 3);
  assert.deepEqual(e.quality.tests, declared);
  assert.deepEqual(e.quality.dlq, ['silver.orders.warehouse-errors']);
  assert.equal(e.freshness?.subject, 'warehouse:gold.fact_orders');
  assert.equal(e.fields.find((f) => f.name === 'total_amount')?.type, 'numeric(12,2) not null');
  assert.match(e.fields.find((f) => f.name === 'customer_key')?.doc ?? '', /Durable customer key/);
  assert.equal(entry('warehouse:gold.dim_customers').fields[0].name, 'customer_sk');
  assert.deepEqual(entry('warehouse:bronze.orders').quality.tests, []);
});

test('a field marked "sluice.pii" is reported as PII, in its topics and in the tables made from them', () => {
  const schemaOf = (name: string) => {
    const schema = loadSchema(name) as { name: string; fields: Record<string, unknown>[] };
    if (schema.name !== 'Customer') return schema;
    for (const f of schema.fields) if (f.name === 'email') f['sluice.pii'] = 'email';
    return schema;
  };
  const marked = buildCatalog({ ...shipped, schemaOf });
  const piiOf = (name: string) =>
    Object.fromEntries(
      marked
        .find((e) => e.name === name)!
        .fields.filter((f) => f.pii)
        .map((f) => [f.name, f.pii]),
    );
  assert.deepEqual(piiOf('oltp.customers'), { email: 'email', full_name: 'name' });
  assert.deepEqual(piiOf('silver.customers'), { email: 'email', full_name: 'name' });
  assert.deepEqual(piiOf('warehouse:silver.customers'), { email: 'email', full_name: 'name' });
  assert.deepEqual(piiOf('oltp.orders'), {});
  assert.match(
    formatCatalogEntry(marked.find((e) => e.name === 'oltp.customers')!),
    /email\s+null \| string\s+email\s/,
  );
});

test('sluice catalog NAME finds a topic by name and a table by warehouse:SCHEMA.TABLE or SCHEMA.TABLE', () => {
  assert.equal(findEntry(catalog, 'silver.orders').kind, 'topic');
  assert.equal(findEntry(catalog, 'warehouse:silver.orders').kind, 'table');
  assert.equal(findEntry(catalog, 'gold.fact_orders').name, 'warehouse:gold.fact_orders');
  assert.throws(() => findEntry(catalog, 'no.such'), /no topic or table "no.such"/);
});

test('an owner without a team is refused when the topology is defined', () => {
  assert.throws(() => defineTopology({ ...TOPOLOGIES.customers, owner: { team: ' ' } }), /owner.team is empty/);
});
