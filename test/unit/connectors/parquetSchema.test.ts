import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseS3SinkConfig } from '../../../connectors/s3/config.ts';
import { LAKE_RECORD_SCHEMA } from '../../../connectors/s3/lakeRecord.ts';
import { objectKey, parseObjectKey } from '../../../connectors/s3/layout.ts';
import { ParquetBody, parquetLayoutOf } from '../../../connectors/s3/parquetBody.ts';
import {
  decimalBytes,
  parquetColumnsOf,
  parquetSchemaOf,
  unscaledDecimal,
} from '../../../connectors/s3/parquetSchema.ts';
import { loadSchema, loadType } from '../../../src/domain/schemas.ts';
import { forSchema } from '../../../src/serde/logicalTypes.ts';

const byName = (schema: unknown) => Object.fromEntries(parquetColumnsOf(schema).map((c) => [c.name, c]));

test('Avro primitives map to Parquet physical types, required unless the union has null', () => {
  const cols = byName({
    type: 'record',
    name: 'R',
    fields: [
      { name: 'b', type: 'boolean' },
      { name: 'i', type: 'int' },
      { name: 'l', type: 'long' },
      { name: 'f', type: 'float' },
      { name: 'd', type: 'double' },
      { name: 's', type: 'string' },
      { name: 'y', type: 'bytes' },
      { name: 'x', type: { type: 'fixed', name: 'F4', size: 4 } },
      { name: 'ns', type: ['null', 'string'] },
      { name: 'ln', type: ['long', 'null'] },
    ],
  });
  const shape = (n: string) => [cols[n].element.type, cols[n].element.repetition_type];
  assert.deepEqual(shape('b'), ['BOOLEAN', 'REQUIRED']);
  assert.deepEqual(shape('i'), ['INT32', 'REQUIRED']);
  assert.deepEqual(shape('l'), ['INT64', 'REQUIRED']);
  assert.deepEqual(shape('f'), ['FLOAT', 'REQUIRED']);
  assert.deepEqual(shape('d'), ['DOUBLE', 'REQUIRED']);
  assert.deepEqual(shape('s'), ['BYTE_ARRAY', 'REQUIRED']);
  assert.equal(cols.s.element.logical_type?.type, 'STRING');
  assert.deepEqual(shape('y'), ['BYTE_ARRAY', 'REQUIRED']);
  assert.equal(cols.y.element.logical_type, undefined, 'bytes stay binary');
  assert.deepEqual([cols.x.element.type, cols.x.element.type_length], ['FIXED_LEN_BYTE_ARRAY', 4]);
  assert.deepEqual(shape('ns'), ['BYTE_ARRAY', 'OPTIONAL']);
  assert.deepEqual(shape('ln'), ['INT64', 'OPTIONAL']);
  assert.equal(cols.l.convert(5), 5n, 'longs are written as bigints');
});

test('logical types: decimal keeps precision and scale on the smallest physical type, timestamps are UTC', () => {
  const dec = (precision: number) => ({ type: 'bytes', logicalType: 'decimal', precision, scale: 2 });
  const cols = byName({
    type: 'record',
    name: 'R',
    fields: [
      { name: 'd9', type: dec(9) },
      { name: 'd12', type: dec(12) },
      { name: 'd30', type: ['null', dec(30)] },
      { name: 'fx', type: { type: 'fixed', name: 'M', size: 8, logicalType: 'decimal', precision: 18, scale: 4 } },
      { name: 'tm', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'tu', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
      { name: 'lt', type: { type: 'long', logicalType: 'local-timestamp-millis' } },
      { name: 'dt', type: { type: 'int', logicalType: 'date' } },
      { name: 'u', type: { type: 'string', logicalType: 'uuid' } },
      { name: 'bad', type: { type: 'bytes', logicalType: 'decimal', precision: 2, scale: 5 } },
    ],
  });
  assert.deepEqual(cols.d9.element.logical_type, { type: 'DECIMAL', precision: 9, scale: 2 });
  assert.equal(cols.d9.element.type, 'INT32');
  assert.deepEqual([cols.d12.element.type, cols.d12.element.precision, cols.d12.element.scale], ['INT64', 12, 2]);
  assert.deepEqual(
    [cols.d30.element.type, cols.d30.element.type_length, cols.d30.element.repetition_type],
    ['FIXED_LEN_BYTE_ARRAY', decimalBytes(30), 'OPTIONAL'],
  );
  assert.deepEqual(cols.fx.element.logical_type, { type: 'DECIMAL', precision: 18, scale: 4 });
  assert.equal(cols.d12.convert('12.3'), 1230n, 'decimal strings become unscaled integers, no float');
  assert.equal(cols.d12.convert('-0.05'), -5n);
  assert.deepEqual(cols.tm.element.logical_type, { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' });
  assert.deepEqual(cols.tu.element.logical_type, { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' });
  assert.equal(cols.tu.element.repetition_type, 'OPTIONAL');
  assert.deepEqual(cols.lt.element.logical_type, { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MILLIS' });
  assert.deepEqual([cols.dt.element.type, cols.dt.element.logical_type?.type], ['INT32', 'DATE']);
  assert.equal(cols.u.element.logical_type?.type, 'STRING', 'uuid stays a string');
  assert.equal(cols.bad.element.logical_type, undefined, 'an invalid decimal falls back to its bytes (Avro spec)');
});

test('enums (also by name reference) are strings; nested records, arrays, maps and wide unions are JSON text', () => {
  const cols = byName({
    type: 'record',
    name: 'R',
    namespace: 'n',
    fields: [
      { name: 'e', type: { type: 'enum', name: 'E', symbols: ['a', 'b'] } },
      { name: 'e2', type: ['null', 'E'] },
      { name: 'rec', type: { type: 'record', name: 'Inner', fields: [{ name: 'v', type: 'bytes' }] } },
      { name: 'arr', type: { type: 'array', items: 'long' } },
      { name: 'map', type: { type: 'map', values: 'string' } },
      { name: 'wide', type: ['null', 'string', 'long'] },
    ],
  });
  assert.equal(cols.e.element.logical_type?.type, 'STRING');
  assert.deepEqual([cols.e2.element.logical_type?.type, cols.e2.element.repetition_type], ['STRING', 'OPTIONAL']);
  for (const n of ['rec', 'arr', 'map', 'wide']) assert.equal(cols[n].element.logical_type?.type, 'STRING', n);
  assert.equal(cols.wide.element.repetition_type, 'OPTIONAL');
  assert.equal(cols.rec.convert({ v: Buffer.from([1, 2]) }), '{"v":"AQI="}', 'bytes inside JSON are base64');
  assert.equal(cols.map.convert({ a: 'b' }), '{"a":"b"}');
  assert.equal(cols.arr.convert([1, 2]), '[1,2]');
});

test('the lake record (raw zone) and the commerce schemas map column for column', () => {
  const raw = byName(LAKE_RECORD_SCHEMA);
  assert.deepEqual(Object.keys(raw), ['topic', 'partition', 'offset', 'timestamp', 'key', 'value', 'headers']);
  assert.equal(raw.timestamp.element.logical_type?.type, 'TIMESTAMP');
  assert.equal(raw.value.element.repetition_type, 'OPTIONAL');
  assert.equal(raw.headers.element.logical_type?.type, 'STRING', 'headers map as JSON text');
  const orders = parquetSchemaOf(parquetColumnsOf(loadSchema('silver.orders')));
  assert.deepEqual(orders[0], { name: 'root', num_children: 9 });
  const total = orders.find((e) => e.name === 'total_amount')!;
  assert.deepEqual(total.logical_type, { type: 'DECIMAL', precision: 12, scale: 2 });
});

test('unscaledDecimal pads to the scale and refuses more fractional digits or non-decimals', () => {
  assert.equal(unscaledDecimal('7', 3), 7000n);
  assert.equal(unscaledDecimal('-12.5', 2), -1250n);
  assert.throws(() => unscaledDecimal('1.234', 2));
  assert.throws(() => unscaledDecimal(1.5, 2));
  assert.equal(decimalBytes(9), 4);
  assert.equal(decimalBytes(18), 8);
  assert.equal(decimalBytes(38), 16);
});

test('the parquet format: setting, extension and key layout', () => {
  const cfg = parseS3SinkConfig({ format: 'parquet' });
  assert.deepEqual(
    [cfg.parquetCodec, cfg.parquetRowGroupRows, cfg.parquetRowGroupBytes],
    ['zstd', 100_000, 8 * 1024 * 1024],
  );
  assert.throws(() => parseS3SinkConfig({ format: 'parquet', parquetCodec: 'lz4' }), /parquetCodec/);
  const key = objectKey({
    zone: 'staging',
    topic: 'silver.orders',
    partition: 1,
    startOffset: 42n,
    timestamp: 0,
    format: 'parquet',
  });
  assert.equal(key, 'staging/silver.orders/dt=1970-01-01/hour=00/silver.orders+1+42.parquet');
  assert.equal(parseObjectKey(key)?.format, 'parquet');
});

test('a Parquet body is byte-identical for the same records, and flushes row groups as it fills', () => {
  const writer = { json: JSON.stringify(loadSchema('silver.orders')), type: loadType('silver.orders') };
  const order = (i: number) => ({
    order_id: i,
    customer_id: 1,
    status: 'paid',
    total_amount: `${i}.50`,
    currency: 'EUR',
    ordered_at: 1_767_600_000_000 + i,
    updated_at: 1,
    op: 'c',
    extracted_at: 2,
  });
  const build = () => {
    const body = new ParquetBody(parquetLayoutOf(writer), {
      parquetCodec: 'zstd',
      parquetRowGroupRows: 10,
      parquetRowGroupBytes: 1 << 20,
    });
    const sizes: number[] = [];
    for (let i = 0; i < 25; i++) {
      body.append((buf, pos) => writer.type.encode(order(i), buf, pos));
      sizes.push(body.blocks.length);
    }
    body.close({ 'sluice.topic': 't' });
    return { bytes: Buffer.concat(body.blocks), sizes };
  };
  const a = build();
  const b = build();
  assert.ok(a.bytes.equals(b.bytes), 'deterministic bytes');
  assert.equal(a.bytes.subarray(0, 4).toString(), 'PAR1');
  assert.equal(a.bytes.subarray(-4).toString(), 'PAR1');
  assert.equal(a.sizes[8], 0, 'nothing written before the first row group is full');
  assert.ok(a.sizes[9] > 0 && a.sizes[19] > a.sizes[9], 'a row group is written every 10 records');
  const other = forSchema(loadSchema('silver.orders'));
  assert.throws(() =>
    new ParquetBody(parquetLayoutOf({ json: writer.json, type: other }), {
      parquetCodec: 'snappy',
      parquetRowGroupRows: 10,
      parquetRowGroupBytes: 1 << 20,
    }).append((buf, pos) => other.encode({ order_id: 'x' }, buf, pos)),
  );
});
