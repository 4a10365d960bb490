import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '../../../src/core/errors.ts';
import { loadSchema, loadType, schemaFileNames } from '../../../src/domain/schemas.ts';
import { REDACTED, stringMasker } from '../../../src/pii/maskValue.ts';
import { maskRecord, piiFields } from '../../../src/pii/piiFields.ts';
import { customer } from '../topologies/fixtures.ts';

test('the shipped schemas mark customers email and name, clickstream page_url and user_agent, nothing else', () => {
  const marked = Object.fromEntries(
    schemaFileNames().map((file) => {
      const topic = file.replace(/\.avsc$/, '');
      return [topic, piiFields(loadSchema(topic), topic).map((f) => `${f.name}:${f.kind}`)];
    }),
  );
  assert.deepEqual(marked['oltp.customers'], ['email:email', 'full_name:name']);
  assert.deepEqual(marked['web.clickstream'], ['page_url:free_text', 'user_agent:free_text']);
  for (const [topic, fields] of Object.entries(marked))
    if (topic !== 'oltp.customers' && topic !== 'web.clickstream') assert.deepEqual(fields, [], topic);
});

test('a mark of an unknown kind, or on a field that is not a (nullable) string, is PII_MARK_INVALID', () => {
  const schema = (field: Record<string, unknown>) => ({ type: 'record', name: 'R', fields: [field] });
  assert.throws(
    () => piiFields(schema({ name: 'ssn', type: 'string', 'sluice.pii': 'national_id' }), 'x'),
    (err: unknown) => isSluiceError(err, 'PII_MARK_INVALID') && /x: field ssn/.test(err.message),
  );
  assert.throws(
    () => piiFields(schema({ name: 'phone', type: 'long', 'sluice.pii': 'phone' })),
    (err: unknown) => isSluiceError(err, 'PII_MARK_INVALID'),
  );
  assert.throws(
    () => piiFields(schema({ name: 'id', type: { type: 'string', logicalType: 'uuid' }, 'sluice.pii': 'free_text' })),
    (err: unknown) => isSluiceError(err, 'PII_MARK_INVALID'),
  );
  assert.deepEqual(piiFields(schema({ name: 'n', type: ['string', 'null'], 'sluice.pii': 'name' })), [
    { name: 'n', kind: 'name' },
  ]);
});

test('maskRecord masks marked strings only, keeps nulls, leaves its input alone, and stays valid Avro', () => {
  const fields = piiFields(loadSchema('oltp.customers'));
  const original = customer(7, { email: null });
  const copy = structuredClone(original);
  for (const policy of ['hash', 'redact', 'truncate'] as const) {
    const masked = maskRecord(
      original,
      fields,
      stringMasker(policy, () => 'f'.repeat(64)),
    );
    assert.equal(masked.email, null, 'null stays null');
    assert.notEqual(masked.full_name, original.full_name);
    assert.equal(masked.country, original.country);
    assert.ok(loadType('oltp.customers').isValid(masked), `${policy}: still a Customer`);
  }
  assert.deepEqual(original, copy, 'the input is not modified');
  assert.equal(maskRecord({ email: 'a@b.c' }, fields, stringMasker('redact')).email, REDACTED);
});
