import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avroTypeLabel, schemaFields } from '../../../src/catalog/schemaFields.ts';

test('Avro types read in a few characters', () => {
  assert.equal(avroTypeLabel('long'), 'long');
  assert.equal(avroTypeLabel(['null', 'string']), 'null | string');
  assert.equal(avroTypeLabel({ type: 'bytes', logicalType: 'decimal', precision: 18, scale: 2 }), 'decimal(18,2)');
  assert.equal(avroTypeLabel({ type: 'long', logicalType: 'timestamp-millis' }), 'timestamp-millis');
  assert.equal(avroTypeLabel({ type: 'array', items: 'string' }), 'array<string>');
  assert.equal(avroTypeLabel({ type: 'map', values: 'long' }), 'map<long>');
  assert.equal(avroTypeLabel({ type: 'record', name: 'Address', fields: [] }), 'record Address');
});

test('the sluice.pii mark of each field, none when absent, "invalid" when it is not a string', () => {
  const fields = schemaFields({
    type: 'record',
    name: 'R',
    fields: [
      { name: 'a', type: 'string', doc: 'A.', 'sluice.pii': 'phone' },
      { name: 'b', type: 'string' },
      { name: 'c', type: 'string', 'sluice.pii': true },
    ],
  });
  assert.deepEqual(fields, [
    { name: 'a', type: 'string', doc: 'A.', pii: 'phone' },
    { name: 'b', type: 'string', pii: null },
    { name: 'c', type: 'string', pii: 'invalid' },
  ]);
});
