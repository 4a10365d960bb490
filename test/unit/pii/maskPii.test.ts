import { test } from 'node:test';
import assert from 'node:assert/strict';
import clickstream from '../../../topologies/clickstream.ts';
import customers from '../../../topologies/customers.ts';
import lake from '../../../topologies/lake.ts';
import orders from '../../../topologies/orders.ts';
import warehouse from '../../../topologies/warehouse.ts';
import { describeTopology } from '../../../src/engine/describeTopology.ts';
import { hmacHasher, REDACTED } from '../../../src/pii/maskValue.ts';
import { createPiiMasking } from '../../../src/pii/piiMasking.ts';
import { DEFAULT_PII_POLICIES, type PiiPolicies } from '../../../src/pii/piiPolicy.ts';
import { createTestDriver, TEST_PII_KEY } from '../../../src/testing/testDriver.ts';
import type { Customer } from '../../../src/domain/types.generated.ts';
import { click, customer, product, T0 } from '../topologies/fixtures.ts';

const hash = hmacHasher(TEST_PII_KEY);
const policies = (over: Partial<PiiPolicies>) => createPiiMasking({ ...DEFAULT_PII_POLICIES, ...over }, TEST_PII_KEY);

test('customers: silver gets email and name hashed (HMAC, same input same hash); rules saw the originals; the DLQ keeps bytes', async () => {
  const d = await createTestDriver(customers, { now: T0 });
  d.pipeInput('oltp.customers', customer(1, { email: 'ada@example.com', full_name: 'Ada Lovelace' }), { key: '1' });
  d.pipeInput('oltp.customers', customer(2, { email: 'ada@example.com', full_name: 'Ada King' }), { key: '2' });
  const bad = d.encode('oltp.customers', customer(3, { email: 'not-an-email', full_name: 'Bad Row' }));
  d.pipeRaw('oltp.customers', bad, { key: '3' });

  const silver = d.readOutput('silver.customers').map((r) => r.value as Customer);
  // A valid email passed the format rule: validate ran before masking (a hash has no '@').
  assert.deepEqual(
    silver.map((c) => [c.customer_id, c.email, c.full_name, c.country]),
    [
      [1, hash('ada@example.com'), hash('Ada Lovelace'), 'DE'],
      [2, hash('ada@example.com'), hash('Ada King'), 'DE'],
    ],
  );
  assert.equal(silver[0].email, silver[1].email, 'one email, one hash: joins still work');
  assert.deepEqual(
    d.readOutput('silver.customers').map((r) => r.key),
    ['1', '2'],
  );
  const [dlq] = d.readOutput('oltp.customers.dlq');
  assert.deepEqual(dlq.rawValue, bad, 'the DLQ is the audit copy: original bytes');
  assert.equal((d.serde.decodeSync(dlq.rawValue!).value as Customer).full_name, 'Bad Row');
});

test('customers: redact, truncate and keep in silver; nulls stay null; outputs stay valid Avro (the driver encodes them)', async () => {
  const cases: [PiiPolicies['silver'], string, string][] = [
    ['redact', REDACTED, REDACTED],
    ['truncate', '***@example.com', 'A. L.'],
    ['keep', 'ada@example.com', 'Ada Lovelace'],
  ];
  for (const [silver, email, name] of cases) {
    const pii = policies({ silver, staging: silver, warehouse: silver, feed: silver });
    const d = await createTestDriver(customers, { now: T0, pii });
    d.pipeInput('oltp.customers', customer(1, { email: 'ada@example.com', full_name: 'Ada Lovelace' }), { key: '1' });
    const [out] = d.readOutput('silver.customers');
    assert.deepEqual([(out.value as Customer).email, (out.value as Customer).full_name], [email, name], silver);
  }
});

test('clickstream: page_url and user_agent hashed in silver, null stays null, other fields untouched', async () => {
  const d = await createTestDriver(clickstream, { now: T0 });
  d.pipeInput('oltp.products', product(1), { key: '1' });
  d.pipeInput('web.clickstream', click('e1', { page_url: '/p/1?email=ada@example.com', user_agent: 'UA/1' }));
  d.pipeInput('web.clickstream', click('e2', { page_url: null, user_agent: null }));
  const out = d.readOutput('silver.clickstream').map((r) => r.value as Record<string, unknown>);
  assert.deepEqual(
    out.map((c) => [c.event_id, c.page_url, c.user_agent, c.session_id, c.product_id]),
    [
      ['e1', hash('/p/1?email=ada@example.com'), hash('UA/1'), 's1', 1],
      ['e2', null, null, 's1', 1],
    ],
  );
});

test('lake: staging passes silver on as it is (no second hash) or redacts it; the raw zone keeps original bytes', async () => {
  const silverValue = customer(1, { email: hash('ada@example.com'), full_name: hash('Ada Lovelace') });
  const same = await createTestDriver(lake, { now: T0 });
  same.pipeInput('silver.customers', silverValue, { key: '1' });
  const [staged] = same.readOutput('lake.staging.silver.customers');
  assert.equal((staged.value as Customer).email, hash('ada@example.com'));

  const stricter = await createTestDriver(lake, { now: T0, pii: policies({ staging: 'redact' }) });
  stricter.pipeInput('silver.customers', silverValue, { key: '1' });
  const raw = stricter.encode('oltp.customers', customer(1, { email: 'ada@example.com' }));
  stricter.pipeRaw('oltp.customers', raw, { key: '1' });
  const [redacted] = stricter.readOutput('lake.staging.silver.customers');
  assert.deepEqual([(redacted.value as Customer).email, (redacted.value as Customer).full_name], [REDACTED, REDACTED]);
  assert.deepEqual(stricter.readOutput('lake.raw.oltp.customers')[0].rawValue, raw);
});

test('warehouse: SLUICE_PII_WAREHOUSE=redact redacts every table fed from silver, gold included', async () => {
  const d = await createTestDriver(warehouse, { now: T0, pii: policies({ warehouse: 'redact' }) });
  d.pipeInput('silver.customers', customer(1, { email: hash('a@b.c') }), { key: '1' });
  for (const table of ['warehouse.bronze.customers', 'warehouse.silver.customers', 'warehouse.gold.dim_customers']) {
    const [row] = d.readOutput(table);
    assert.equal((row.value as Customer).email, REDACTED, table);
  }
});

test('every topology that writes silver, staging or the warehouse masks first, after validate and before keyBy', () => {
  const via = (def: typeof customers, to: string) => describeTopology(def).lineage.find((l) => l.to === to)!.via;
  assert.deepEqual(via(customers, 'silver.customers').slice(-2), ['maskPii(silver)', 'keyBy(customer_id)']);
  assert.ok(via(orders, 'silver.orders').includes('maskPii(silver)'));
  assert.ok(via(orders, 'silver.order_items').includes('maskPii(silver)'));
  assert.ok(via(clickstream, 'silver.clickstream').includes('maskPii(silver)'));
  assert.ok(via(lake, 'lake.staging.silver.clickstream').includes('maskPii(staging)'));
  assert.ok(!via(lake, 'lake.raw.oltp.customers').some((s) => s.startsWith('maskPii')), 'raw zone untouched');
  assert.ok(via(warehouse, 'warehouse.gold.dim_customers').includes('maskPii(warehouse)'));
});
