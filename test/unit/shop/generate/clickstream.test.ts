import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSchema } from '../../../../src/domain/schemas.ts';
import { createAvroSerde } from '../../../../src/serde/avroSerde.ts';
import { createMemoryRegistry } from '../../../../src/testing/memoryRegistry.ts';
import {
  buildClickstreamEvents,
  CLICK_BAD_KINDS,
  EVENT_TYPES,
  syntheticPrice,
  type ClickstreamEventOptions,
} from '../../../../src/shop/generate/clickstreamGenerator.ts';
import { newClassifier } from '../../../support/clickClassifier.ts';

const BASE_TIME = Date.UTC(2025, 5, 15, 12, 0, 0);
const MAX_BYTES = 65_536;
const products = Array.from({ length: 200 }, (_, i) => ({ id: 1000 + i * 3, price: syntheticPrice(1000 + i * 3) }));
const customerIds = Array.from({ length: 500 }, (_, i) => i + 1);

async function options(
  over: Partial<ClickstreamEventOptions & { count: number }> = {},
): Promise<ClickstreamEventOptions & { count: number }> {
  return {
    schemaId: 7,
    products,
    customerIds,
    seed: 'unit',
    baseTime: BASE_TIME,
    rate: 100,
    badRatio: 0.1,
    maxMessageBytes: MAX_BYTES,
    count: 3_000,
    ...over,
  };
}

test('same seed and base time → byte-identical keys and values; a different seed or base time differs', async () => {
  const a = buildClickstreamEvents(await options());
  const b = buildClickstreamEvents(await options());
  assert.equal(a.messages.length, 3_000);
  assert.deepEqual(a.counts, b.counts);
  for (let i = 0; i < a.messages.length; i++) {
    assert.ok(a.messages[i].value.equals(b.messages[i].value), `value ${i}`);
    assert.equal(a.messages[i].key?.toString('hex'), b.messages[i].key?.toString('hex'), `key ${i}`);
  }
  const other = buildClickstreamEvents(await options({ seed: 'other' }));
  assert.notDeepEqual(
    other.messages.slice(0, 20).map((m) => m.value.toString('hex')),
    a.messages.slice(0, 20).map((m) => m.value.toString('hex')),
  );
  const later = buildClickstreamEvents(await options({ baseTime: BASE_TIME + 1 }));
  assert.ok(!later.messages[0].value.equals(a.messages[0].value));
  // A shorter run is a prefix of a longer one (a stream, not a batch).
  const prefix = buildClickstreamEvents(await options({ count: 500 }));
  assert.ok(prefix.messages.every((m, i) => m.value.equals(a.messages[i].value)));
});

test('the counts add up and cover every kind', async () => {
  const { messages, counts } = buildClickstreamEvents(await options({ count: 6_000, badRatio: 0.2 }));
  const badTotal = CLICK_BAD_KINDS.reduce((s, k) => s + counts.bad[k], 0);
  assert.equal(counts.total, messages.length);
  assert.equal(counts.valid + badTotal, counts.total);
  for (const k of CLICK_BAD_KINDS) assert.ok(counts.bad[k] > 50, `${k}: ${counts.bad[k]}`);
  assert.ok(counts.duplicates > 0 && counts.outOfOrder > 0 && counts.late > 0, JSON.stringify(counts));
  for (const k of CLICK_BAD_KINDS) assert.equal(messages.filter((m) => m.kind === k).length, counts.bad[k]);
  // Sizes: only too_large records exceed the limit.
  for (const m of messages)
    assert.equal(m.value.length > MAX_BYTES, m.kind === 'too_large', `${m.kind} is ${m.value.length} bytes`);
  // Funnel with drop-off.
  const t = counts.eventTypes;
  assert.ok(
    t.page_view > t.add_to_cart &&
      t.product_view > t.add_to_cart &&
      t.add_to_cart > t.checkout_started &&
      t.checkout_started > t.purchase &&
      t.purchase > 0 &&
      t.remove_from_cart > 0,
    JSON.stringify(t),
  );
  const clean = buildClickstreamEvents(await options({ badRatio: 0 }));
  assert.equal(clean.counts.valid, clean.counts.total);
});

test('a consumer classifying each record on its own finds exactly the ground truth', async () => {
  const registry = createMemoryRegistry();
  const schemaId = await registry.register('web.clickstream-value', loadSchema('web.clickstream'));
  const { messages, counts } = buildClickstreamEvents(await options({ schemaId, count: 5_000, badRatio: 0.15 }));
  const serde = createAvroSerde(registry, { maxMessageBytes: MAX_BYTES });
  const classifier = newClassifier({
    serde,
    catalog: new Set(products.map((p) => p.id)),
    futureAfter: BASE_TIME + 12 * 3_600_000,
  });
  for (const m of messages) await classifier.add(m.key, m.value);
  const got = classifier.counts;
  assert.equal(got.total, counts.total);
  assert.equal(got.valid, counts.valid);
  assert.equal(got.duplicates, counts.duplicates);
  assert.equal(got.outOfOrder, counts.outOfOrder);
  assert.equal(got.late, counts.late);
  for (const k of CLICK_BAD_KINDS) assert.equal(got.bad[k] ?? 0, counts.bad[k], k);
  for (const k of EVENT_TYPES) assert.equal(got.eventTypes[k] ?? 0, counts.eventTypes[k], k);
});
