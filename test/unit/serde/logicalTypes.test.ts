import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import {
  DecimalType,
  LOGICAL_TYPES,
  bigIntToTwosComplement,
  forSchema,
  twosComplementToBigInt,
} from '../../../src/serde/logicalTypes.ts';

const money = forSchema({ type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 } as avro.Schema);
const roundTrip = (type: avro.Type, v: unknown) => type.fromBuffer(type.toBuffer(v));

test('decimal(12,2) round-trips as a string with exactly two fractional digits', () => {
  assert.equal(money.typeName, 'logical:decimal');
  for (const v of [
    '0.00',
    '12.30',
    '-0.05',
    '-12.30',
    '1.00',
    '-1.00',
    '0.01',
    '-0.01',
    '127.99',
    '-128.00',
    '9999999999.99',
    '-9999999999.99',
  ]) {
    assert.equal(roundTrip(money, v), v, v);
  }
});

test('decimal inputs with fewer fractional digits are padded; -0 normalises to 0.00', () => {
  assert.equal(roundTrip(money, '12'), '12.00');
  assert.equal(roundTrip(money, '12.3'), '12.30');
  assert.equal(roundTrip(money, '-0.00'), '0.00');
  assert.equal(roundTrip(money, '007.50'), '7.50');
});

test("decimal bytes are minimal two's-complement big-endian of the unscaled value", () => {
  const bytes = (v: string) => (money as any)._toValue(v).toString('hex');
  assert.equal(bytes('0.00'), '00');
  assert.equal(bytes('1.27'), '7f');
  assert.equal(bytes('1.28'), '0080');
  assert.equal(bytes('-1.28'), '80');
  assert.equal(bytes('-1.29'), 'ff7f');
  assert.equal(bytes('-0.01'), 'ff');
  assert.equal(bytes('12.30'), '04ce');
  // Avro bytes framing: zigzag length then the bytes.
  assert.deepEqual(money.toBuffer('12.30'), Buffer.from([0x04, 0x04, 0xce]));
});

test("two's-complement helpers agree with each other around byte boundaries and near 10^12", () => {
  const samples = [
    0n,
    1n,
    -1n,
    127n,
    128n,
    -128n,
    -129n,
    255n,
    256n,
    32767n,
    -32768n,
    10n ** 12n - 1n,
    -(10n ** 12n - 1n),
    2n ** 63n,
    -(2n ** 63n),
  ];
  for (const n of samples) assert.equal(twosComplementToBigInt(bigIntToTwosComplement(n)), n, String(n));
  // Sign-extended (non-minimal) encodings decode to the same value.
  assert.equal(twosComplementToBigInt(Buffer.from('ffffff', 'hex')), -1n);
  assert.equal(twosComplementToBigInt(Buffer.from('00007f', 'hex')), 127n);
});

test('maximum precision is accepted, one more digit is not', () => {
  assert.ok(money.isValid('9999999999.99'));
  assert.ok(money.isValid('-9999999999.99'));
  assert.ok(!money.isValid('10000000000.00'));
  assert.ok(!money.isValid('-10000000000.00'));
  assert.ok(!money.isValid('99999999999'));
  assert.throws(() => money.toBuffer('10000000000.00'), /digits/);
  assert.equal(roundTrip(money, '1234567890.12'), '1234567890.12'); // near 10^10
  assert.equal(roundTrip(money, '-9876543210.98'), '-9876543210.98');
});

test('too many fractional digits, malformed strings and non-strings are invalid', () => {
  for (const bad of [
    '1.001',
    '0.005',
    '-0.001',
    '',
    '.5',
    '5.',
    '1e3',
    ' 1.00',
    '1,00',
    '+1.00',
    '--1',
    'NaN',
    '0x10',
  ]) {
    assert.ok(!money.isValid(bad), JSON.stringify(bad));
  }
  for (const bad of [1.5, 0, 12n, null, undefined, {}, Buffer.from([1])]) assert.ok(!money.isValid(bad), String(bad));
  assert.throws(() => money.toBuffer('1.001'), /fractional/);
});

test('decoding rejects bytes beyond the precision, empty bytes and absurdly long byte strings', () => {
  const bytesType = avro.Type.forSchema('bytes');
  const over = bytesType.toBuffer(bigIntToTwosComplement(10n ** 12n));
  assert.throws(() => money.fromBuffer(over), /digits/);
  assert.throws(() => money.fromBuffer(bytesType.toBuffer(Buffer.alloc(0))), /empty/);
  assert.throws(() => money.fromBuffer(bytesType.toBuffer(Buffer.alloc(10_000, 0xff))), /too long/);
  // Padded but in range: accepted.
  assert.equal(money.fromBuffer(bytesType.toBuffer(Buffer.from('ffffffffffff', 'hex'))), '-0.01');
});

test('nullable decimal inside an unwrapped union', () => {
  const type = forSchema(['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }] as avro.Schema);
  assert.equal(roundTrip(type, null), null);
  assert.equal(roundTrip(type, '-3.50'), '-3.50');
  assert.ok(!type.isValid('3.505'));
  assert.ok(!type.isValid(3.5));
});

test('scale 0 and other scales', () => {
  const whole = forSchema({ type: 'bytes', logicalType: 'decimal', precision: 4 } as avro.Schema);
  assert.equal(roundTrip(whole, '9999'), '9999');
  assert.equal(roundTrip(whole, '-42'), '-42');
  assert.ok(!whole.isValid('1.0'));
  assert.ok(!whole.isValid('10000'));
  const fine = forSchema({ type: 'bytes', logicalType: 'decimal', precision: 5, scale: 5 } as avro.Schema);
  assert.equal(roundTrip(fine, '0.00001'), '0.00001');
  assert.equal(roundTrip(fine, '-0.99999'), '-0.99999');
  assert.ok(!fine.isValid('1.00000'));
});

test('decimal on fixed is sign-extended to the fixed size', () => {
  const type = forSchema({
    type: 'fixed',
    name: 'Money',
    size: 8,
    logicalType: 'decimal',
    precision: 12,
    scale: 2,
  } as avro.Schema);
  assert.deepEqual(type.toBuffer('-0.01'), Buffer.alloc(8, 0xff));
  assert.equal(roundTrip(type, '-9999999999.99'), '-9999999999.99');
  assert.equal(roundTrip(type, '0.00'), '0.00');
});

test('invalid decimal attributes fall back to the underlying bytes type (Avro spec)', () => {
  assert.equal(forSchema({ type: 'bytes', logicalType: 'decimal' } as avro.Schema).typeName, 'bytes');
  assert.equal(
    forSchema({ type: 'bytes', logicalType: 'decimal', precision: 2, scale: 3 } as avro.Schema).typeName,
    'bytes',
  );
  assert.equal(
    forSchema({ type: 'fixed', name: 'Tiny', size: 2, logicalType: 'decimal', precision: 12, scale: 2 } as avro.Schema)
      .typeName,
    'fixed',
  );
});

test('timestamp-millis stays a plain number', () => {
  const type = forSchema({ type: 'long', logicalType: 'timestamp-millis' } as avro.Schema);
  assert.equal(type.typeName, 'long');
  const now = 1_767_225_600_123;
  assert.equal(roundTrip(type, now), now);
  assert.ok(!type.isValid(new Date(now)));
  assert.equal(Object.keys(LOGICAL_TYPES).join(), 'decimal');
});

test('schema resolution: same-scale decimals, plain bytes writers; other scales refused', () => {
  const reader = money;
  const wider = forSchema({ type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 } as avro.Schema);
  assert.equal(reader.fromBuffer(wider.toBuffer('12.34'), reader.createResolver(wider)), '12.34');
  assert.throws(() => reader.fromBuffer(wider.toBuffer('1000000000000.00'), reader.createResolver(wider)), /digits/);
  const bytesType = avro.Type.forSchema('bytes');
  assert.equal(
    reader.fromBuffer(bytesType.toBuffer(Buffer.from('04ce', 'hex')), reader.createResolver(bytesType)),
    '12.30',
  );
  const otherScale = forSchema({ type: 'bytes', logicalType: 'decimal', precision: 12, scale: 3 } as avro.Schema);
  assert.throws(() => reader.createResolver(otherScale));
});

test('compare is numeric, clone keeps strings, random values are valid, schema export keeps attributes', () => {
  assert.equal(money.compare('-1.00', '0.50'), -1);
  assert.equal(money.compare('10.00', '9.99'), 1);
  assert.equal(money.compare('1.5', '1.50'), 0);
  assert.equal(money.clone('1.5'), '1.50');
  for (let i = 0; i < 200; i++) assert.ok(money.isValid(money.random()));
  assert.ok(money instanceof DecimalType);
  assert.deepEqual(money.schema({ exportAttrs: true }), {
    type: 'bytes',
    logicalType: 'decimal',
    precision: 12,
    scale: 2,
  });
});
