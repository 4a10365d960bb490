import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type avro from 'avsc';
import {
  SCHEMAS_DIR,
  SCHEMA_FILES,
  SCHEMA_TOPICS,
  loadSchema,
  loadType,
  schemaFileNames,
  subjectFor,
} from '../../../src/domain/schemas.ts';
import { forSchema } from '../../../src/serde/logicalTypes.ts';
import { checkAvroBytes } from '../../../src/serde/avroGuard.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import type { ValueTypeByTopic } from '../../../src/domain/types.generated.ts';

type Json = Record<string, any>;

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const window = { window_start: T0, window_end: T0 + 60_000 };
const emitted = { final: true, emitted_at: T0 + 65_000 };

/** A representative valid value per schema file; typed against the generated interfaces. */
const SAMPLES: { [F in keyof ValueTypeByTopic as F extends `silver.${string}` ? never : F]: ValueTypeByTopic[F] } = {
  'oltp.customers': {
    customer_id: 42,
    email: 'ada@example.com',
    full_name: 'Ada Lovelace',
    country: 'GB',
    created_at: T0 - 86_400_000,
    updated_at: T0,
    op: 'c',
    extracted_at: T0 + 1500,
  },
  'oltp.products': {
    product_id: 7,
    sku: 'SKU-0007',
    name: 'Rust-proof kettle',
    category: 'kitchen',
    price: '49.90',
    active: true,
    created_at: T0 - 1000,
    updated_at: T0,
    op: 'u',
    extracted_at: T0 + 10,
  },
  'oltp.orders': {
    order_id: 9_007_199_254_740_990,
    customer_id: 42,
    status: 'paid',
    total_amount: '-12.30',
    currency: 'EUR',
    ordered_at: T0,
    updated_at: T0 + 1,
    op: 'r',
    extracted_at: T0 + 2,
  },
  'oltp.order_items': {
    order_item_id: 1,
    order_id: 2,
    product_id: 7,
    quantity: 3,
    unit_price: '0.00',
    updated_at: T0,
    op: 'c',
    extracted_at: T0,
  },
  'web.clickstream': {
    event_id: '3f2b8c1e-8a4d-4c7b-9a51-0e6f2d1c9b7a',
    event_type: 'add_to_cart',
    session_id: 's-1',
    customer_id: 42,
    event_time: T0,
    page_url: 'https://shop.example/p/7',
    product_id: 7,
    quantity: 2,
    price: '9999999999.99',
    order_id: 5,
    user_agent: 'Mozilla/5.0',
  },
  'metrics.revenue_per_minute': { ...window, category: '__all__', revenue: 1234.5, ...emitted },
  'metrics.orders_per_minute': { ...window, status: 'shipped', count: 17, final: false, emitted_at: T0 + 30_000 },
  'metrics.funnel_5m': {
    window_start: T0,
    window_end: T0 + 300_000,
    views: 100,
    product_views: 60,
    carts: 20,
    checkouts: 10,
    purchases: 5,
    view_to_cart: 0.2,
    cart_to_checkout: 0.5,
    checkout_to_purchase: 0.5,
    view_to_purchase: 0.05,
    ...emitted,
  },
  'metrics.active_sessions': { ...window, count: 12, ...emitted },
  'metrics.dlq_per_minute': { ...window, source: 'oltp.orders', reason: 'rule', count: 3, ...emitted },
};

const files = readdirSync(SCHEMAS_DIR)
  .filter((f) => f.endsWith('.avsc'))
  .sort();
const topicOf = (file: string) => file.replace(/\.avsc$/, '');

function nullable(fieldType: unknown): boolean {
  return Array.isArray(fieldType) && fieldType.includes('null');
}

/** The sample with every nullable field set to null. */
function allNull(file: string): Json {
  const schema = loadSchema(topicOf(file)) as Json;
  const value: Json = { ...(SAMPLES as Json)[topicOf(file)] };
  for (const f of schema.fields) if (nullable(f.type)) value[f.name] = null;
  return value;
}

function roundTrip(type: avro.Type, value: unknown): unknown {
  assert.ok(type.isValid(value, { errorHook: (path) => assert.fail(`invalid at ${path.join('.')}`) }));
  const buf = type.toBuffer(value);
  checkAvroBytes(type, buf); // the decode guard walks logical types through their underlying type
  // avsc decodes records as instances of a generated class; compare own fields only.
  return { ...(type.fromBuffer(buf) as Json) };
}

test('the schemas directory holds exactly the files SCHEMA_FILES names, one per subject topic', () => {
  assert.deepEqual(files, schemaFileNames());
  assert.deepEqual(files, [
    'metrics.active_sessions.avsc',
    'metrics.dlq_per_minute.avsc',
    'metrics.funnel_5m.avsc',
    'metrics.orders_per_minute.avsc',
    'metrics.revenue_per_minute.avsc',
    'oltp.customers.avsc',
    'oltp.order_items.avsc',
    'oltp.orders.avsc',
    'oltp.products.avsc',
    'web.clickstream.avsc',
  ]);
  assert.deepEqual(Object.keys(SAMPLES).sort(), files.map(topicOf));
  for (const name of ['customers', 'products', 'orders', 'order_items']) {
    assert.equal(SCHEMA_FILES[`silver.${name}`], SCHEMA_FILES[`oltp.${name}`]);
    assert.deepEqual(loadSchema(`silver.${name}`), loadSchema(`oltp.${name}`));
    assert.equal(loadType(`silver.${name}`), loadType(`oltp.${name}`));
  }
  assert.equal(SCHEMA_FILES['silver.clickstream'], SCHEMA_FILES['web.clickstream']);
  assert.equal(SCHEMA_TOPICS.length, 15);
});

test('subjects follow TopicNameStrategy', () => {
  assert.equal(subjectFor('oltp.orders', 'value'), 'oltp.orders-value');
  assert.equal(subjectFor('web.clickstream', 'key'), 'web.clickstream-key');
  assert.equal(subjectFor('metrics.funnel_5m'), 'metrics.funnel_5m-value');
  assert.deepEqual(loadSchema('oltp.orders-value'), loadSchema('oltp.orders'));
});

test('unknown topics are SCHEMA_NOT_FOUND; loadSchema returns a fresh copy', () => {
  assert.throws(
    () => loadSchema('oltp.nope'),
    (err) => isSluiceError(err, 'SCHEMA_NOT_FOUND'),
  );
  assert.throws(
    () => loadSchema('oltp.orders-key'),
    (err) => isSluiceError(err, 'SCHEMA_NOT_FOUND'),
  );
  assert.throws(
    () => loadSchema('toString'),
    (err) => isSluiceError(err, 'SCHEMA_NOT_FOUND'),
  );
  const a = loadSchema('oltp.orders') as Json;
  a.fields.pop();
  assert.notDeepEqual(loadSchema('oltp.orders'), a);
});

for (const file of files) {
  const topic = topicOf(file);
  test(`${file}: parses with logical types and follows the conventions`, () => {
    const schema = loadSchema(topic) as Json;
    const type = forSchema(schema as avro.Schema);
    assert.equal(type.typeName, 'record');
    assert.equal(schema.namespace, topic.startsWith('metrics.') ? 'sluice.metrics' : 'sluice.commerce');
    assert.ok(typeof schema.doc === 'string' && schema.doc.length > 10, 'record doc');
    for (const f of schema.fields) {
      assert.ok(typeof f.doc === 'string' && f.doc.length > 5, `${f.name} has a doc`);
      if (nullable(f.type)) {
        assert.equal(f.type[0], 'null', `${f.name}: null first`);
        assert.equal(f.default, null, `${f.name}: default null`);
      }
      if (typeof f.type === 'object' && !Array.isArray(f.type) && f.type.type === 'enum')
        assert.ok(f.type.doc, `${f.name}: enum doc`);
      if (/_at$|^window_(start|end)$|_time$/.test(f.name))
        assert.deepEqual(f.type, { type: 'long', logicalType: 'timestamp-millis' }, f.name);
    }
    // Decimals are really built as the decimal logical type, not the bytes fallback.
    for (const f of (type as any).fields) {
      const t = f.type.typeName === 'union:unwrapped' ? f.type.types[1] : f.type;
      if (t.underlyingType?.typeName === 'bytes') assert.equal(t.typeName, 'logical:decimal', f.name);
    }
  });

  test(`${file}: representative value round-trips`, () => {
    const type = loadType(topic);
    const value = (SAMPLES as Json)[topic];
    assert.deepEqual(roundTrip(type, value), value);
  });

  test(`${file}: value with every nullable field null round-trips`, () => {
    const type = loadType(topic);
    const value = allNull(file);
    assert.deepEqual(roundTrip(type, value), value);
  });
}

test('decimals round-trip in every money field, including negatives and zero; too many fractional digits is invalid', () => {
  const cases: [string, string][] = [
    ['oltp.products', 'price'],
    ['oltp.orders', 'total_amount'],
    ['oltp.order_items', 'unit_price'],
    ['web.clickstream', 'price'],
  ];
  for (const [topic, field] of cases) {
    const type = loadType(topic);
    for (const amount of ['0.00', '-0.01', '12.30', '-12.30', '-9999999999.99', '9999999999.99']) {
      const value = { ...(SAMPLES as Json)[topic], [field]: amount };
      assert.deepEqual(roundTrip(type, value), value, `${topic}.${field}=${amount}`);
    }
    for (const bad of ['12.345', '0.001', '10000000000.00', 12.3, 'abc']) {
      assert.ok(
        !type.isValid({ ...(SAMPLES as Json)[topic], [field]: bad }),
        `${topic}.${field}=${bad} must be invalid`,
      );
    }
  }
});

test('timestamps decode as plain epoch-millisecond numbers', () => {
  const decoded = loadType('oltp.orders').fromBuffer(loadType('oltp.orders').toBuffer(SAMPLES['oltp.orders'])) as Json;
  assert.equal(typeof decoded.ordered_at, 'number');
  assert.ok(!loadType('oltp.orders').isValid({ ...SAMPLES['oltp.orders'], ordered_at: new Date(T0) }));
});

test('enum symbols as specified; order status is a plain string', () => {
  const enumSymbols = (topic: string, field: string) =>
    (loadSchema(topic) as Json).fields.find((f: Json) => f.name === field).type.symbols;
  for (const topic of ['oltp.customers', 'oltp.products', 'oltp.orders', 'oltp.order_items'])
    assert.deepEqual(enumSymbols(topic, 'op'), ['c', 'u', 'r', 'd']);
  assert.deepEqual(enumSymbols('web.clickstream', 'event_type'), [
    'page_view',
    'product_view',
    'add_to_cart',
    'remove_from_cart',
    'checkout_started',
    'purchase',
  ]);
  assert.deepEqual(enumSymbols('metrics.dlq_per_minute', 'reason'), [
    'deserialize',
    'schema',
    'rule',
    'processing',
    'sink',
  ]);
  const status = (loadSchema('oltp.orders') as Json).fields.find((f: Json) => f.name === 'status');
  assert.equal(status.type, 'string');
  for (const known of ['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'])
    assert.match(status.doc, new RegExp(known));
  assert.ok(
    loadType('oltp.orders').isValid({ ...SAMPLES['oltp.orders'], status: 'teleported' }),
    'unknown statuses must still encode',
  );
  assert.ok(!loadType('web.clickstream').isValid({ ...SAMPLES['web.clickstream'], event_type: 'teleport' }));
  assert.ok(!loadType('oltp.customers').isValid({ ...SAMPLES['oltp.customers'], op: 'x' }));
});

test('rule breakers the data-quality rules must catch are still valid Avro', () => {
  assert.ok(loadType('web.clickstream').isValid({ ...SAMPLES['web.clickstream'], session_id: null }));
  assert.ok(loadType('oltp.customers').isValid({ ...SAMPLES['oltp.customers'], email: null }));
  assert.ok(loadType('oltp.orders').isValid({ ...SAMPLES['oltp.orders'], total_amount: '-500.00' }));
});

test('enum names are unique across schema files (schemas are self-contained)', () => {
  const names = new Set<string>();
  const visit = (s: unknown, ns: string) => {
    if (Array.isArray(s)) return s.forEach((x) => visit(x, ns));
    if (!s || typeof s !== 'object') return;
    const o = s as Json;
    if (['record', 'enum', 'fixed'].includes(o.type)) {
      const full = `${o.namespace ?? ns}.${o.name}`;
      assert.ok(!names.has(full), `${full} defined twice`);
      names.add(full);
    }
    if (o.fields) o.fields.forEach((f: Json) => visit(f.type, o.namespace ?? ns));
    else if (typeof o.type === 'object') visit(o.type, ns);
  };
  for (const file of files) visit(loadSchema(topicOf(file)), '');
  assert.ok(names.has('sluice.commerce.CustomerOp') && names.has('sluice.commerce.ClickEventType'));
});

test('the decode guard rejects a truncated money field', () => {
  const type = loadType('oltp.orders');
  const buf = type.toBuffer(SAMPLES['oltp.orders']);
  assert.throws(
    () => checkAvroBytes(type, buf.subarray(0, buf.length - 1)),
    (err) => isSluiceError(err, 'SERDE_TRUNCATED'),
  );
});
