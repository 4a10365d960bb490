import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TABLE_SPECS } from '../../../connectors/postgres/extract/tables.ts';
import {
  integerToNumber,
  keyOf,
  numericToDecimal,
  timestamptzToMillis,
  toRowImage,
} from '../../../connectors/postgres/cdc/rowImage.ts';
import { formatLsn, parseLsn } from '../../../connectors/postgres/cdc/lsn.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import type avro from 'avsc';
import { forSchema } from '../../../src/serde/logicalTypes.ts';

test('timestamptz text to epoch milliseconds: offsets applied, microseconds truncated (never rounded up)', () => {
  assert.equal(timestamptzToMillis('2025-06-01 12:34:56.123999+00'), Date.UTC(2025, 5, 1, 12, 34, 56, 123));
  assert.equal(timestamptzToMillis('2025-06-01 12:34:56+00'), Date.UTC(2025, 5, 1, 12, 34, 56));
  assert.equal(timestamptzToMillis('2025-06-01 14:34:56.5+02'), Date.UTC(2025, 5, 1, 12, 34, 56, 500));
  assert.equal(timestamptzToMillis('2025-06-01 07:04:56-05:30'), Date.UTC(2025, 5, 1, 12, 34, 56));
  assert.equal(timestamptzToMillis('1969-12-31 23:59:59.9995+00'), -1);
  assert.throws(() => timestamptzToMillis('infinity'));
  assert.throws(() => timestamptzToMillis('2025-06-01 12:34:56 BC'));
});

test('numeric and integer text: decimals stay strings, unsafe or non-finite values are refused', () => {
  assert.equal(numericToDecimal('12.30'), '12.30');
  assert.equal(numericToDecimal('-0.05'), '-0.05');
  assert.throws(() => numericToDecimal('NaN'));
  assert.throws(() => numericToDecimal('Infinity'));
  assert.equal(integerToNumber('9007199254740991'), 9007199254740991);
  assert.throws(() => integerToNumber('9007199254740993'));
  assert.throws(() => integerToNumber('1.5'));
});

test('a pgoutput tuple becomes the Avro row image of oltp.<table>, valid for its schema', () => {
  const tuple = {
    product_id: '7',
    sku: 'S7',
    name: 'Lamp',
    category: 'home',
    price: '12.30',
    active: 't',
    created_at: '2025-06-01 12:00:00.000001+00',
    updated_at: '2025-06-01 12:00:01.999999+00',
  };
  const image = toRowImage(TABLE_SPECS.products, tuple, 'd', 42);
  assert.deepEqual(image, {
    product_id: 7,
    sku: 'S7',
    name: 'Lamp',
    category: 'home',
    price: '12.30',
    active: true,
    created_at: Date.UTC(2025, 5, 1, 12, 0, 0, 0),
    updated_at: Date.UTC(2025, 5, 1, 12, 0, 1, 999),
    op: 'd',
    extracted_at: 42,
  });
  const type = forSchema(loadSchema('oltp.products') as avro.Schema);
  assert.ok(type.isValid(image));
  assert.equal(keyOf(TABLE_SPECS.products, tuple), '7');
});

test('nulls stay null; a missing column (a key-only delete image) is CDC_DECODE_FAILED', () => {
  const c = { customer_id: '1', email: null, full_name: 'A', country: 'DE', created_at: '2025-06-01 00:00:00+00' };
  assert.equal(toRowImage(TABLE_SPECS.customers, { ...c, updated_at: c.created_at }, 'u', 0).email, null);
  assert.throws(
    () => toRowImage(TABLE_SPECS.customers, { customer_id: '1' }, 'd', 0),
    (err: Error & { code?: string }) => err.code === 'SLUICE_ERR_CDC_DECODE_FAILED',
  );
});

test('LSNs: X/Y text and bigint round-trip and order', () => {
  assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
  assert.equal(parseLsn('1/0'), 1n << 32n);
  assert.equal(formatLsn(parseLsn('A/FF00AA')), 'A/FF00AA');
  assert.ok(parseLsn('1/0') > parseLsn('0/FFFFFFFF'));
  assert.throws(() => parseLsn('garbage'));
});
