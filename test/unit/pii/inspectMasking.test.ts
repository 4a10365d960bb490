import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskForDisplay } from '../../../src/admin/maskForDisplay.ts';
import { markedFieldNames } from '../../../src/admin/writerPiiFields.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';

test('inspect hides the fields the writer schema marks, whatever their kind, and names them; nulls stay null', () => {
  const marked = markedFieldNames(loadSchema('oltp.customers'));
  assert.deepEqual(marked, ['email', 'full_name']);
  assert.deepEqual(
    markedFieldNames({ type: 'record', name: 'R', fields: [{ name: 'x', type: 'long', 'sluice.pii': 7 }] }),
    ['x'],
  );
  const row = { customer_id: 1, email: null, full_name: 'Ada Lovelace', country: 'DE' };
  assert.deepEqual(maskForDisplay(row, marked), {
    value: { customer_id: 1, email: null, full_name: '[redacted]', country: 'DE' },
    masked: ['full_name'],
  });
  assert.equal(row.full_name, 'Ada Lovelace', 'the input is not modified');
  assert.deepEqual(maskForDisplay(null, marked), { value: null, masked: [] });
  assert.deepEqual(maskForDisplay({ undecodable: true }, marked).masked, []);
});
