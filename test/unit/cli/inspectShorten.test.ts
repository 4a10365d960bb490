import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InspectedRecord } from '../../../src/admin/inspectTopic.ts';
import { omittedNote, shortenLongStrings, shortenString } from '../../../src/admin/shortenForDisplay.ts';
import { DEFAULT_MAX_BYTES, formatInspected } from '../../../src/cli/inspectCommand.ts';

function dlqRecord(value: unknown, key: string | null = 'k'): InspectedRecord {
  return {
    topic: 'web.clickstream.dlq',
    partition: 0,
    offset: '7',
    timestamp: 0,
    time: '1970-01-01T00:00:00.000Z',
    key,
    headers: { 'sluice.error.reason': 'too_large' },
    value,
  };
}

test('an oversized DLQ value prints as a screenful with the size left out, not a megabyte of base64', () => {
  const bytes = Buffer.alloc(1_049_600, 0x41); // about the broker's limit: 1.4 MB of base64
  const base64 = bytes.toString('base64');
  const value = { undecodable: true, error: 'SLUICE_ERR_SERDE_BAD_MAGIC', bytes: bytes.length, bytesBase64: base64 };
  const record = dlqRecord(value);
  const human = formatInspected([record]);
  assert.ok(human.length < 4 * DEFAULT_MAX_BYTES, `${human.length} characters`);
  assert.ok(
    human.includes(`"bytesBase64": "${base64.slice(0, DEFAULT_MAX_BYTES)}${omittedNote(base64.length - 1024)}"`),
  );
  assert.match(human, /…\(\+1,398,444 bytes; --max-bytes to show more\)/);
  assert.match(human, /"error": "SLUICE_ERR_SERDE_BAD_MAGIC"/, 'the short fields are whole');
  assert.match(human, /sluice\.error\.reason\s+too_large/);
  // The record itself is not changed: --json prints it whole.
  assert.equal((record.value as typeof value).bytesBase64, base64);
  // --max-bytes 0: everything; a larger limit shows more.
  assert.ok(formatInspected([record], 0).includes(base64));
  assert.match(formatInspected([record], 4096), /…\(\+1,395,372 bytes;/);
});

test('long keys, header values and nested strings are shortened; short ones are left alone', () => {
  const record = {
    ...dlqRecord({ items: [{ note: 'x'.repeat(3000) }], n: 5, ok: true, none: null }, 'K'.repeat(2000)),
    headers: { big: 'h'.repeat(1500), small: 'fine' },
  };
  const human = formatInspected([record]);
  assert.match(human, /key: "K{1024}…\(\+976 bytes; --max-bytes to show more\)"/);
  assert.match(human, /big\s+h{1024}…\(\+476 bytes;/);
  assert.match(human, /small\s+fine/);
  assert.match(human, /"note": "x{1024}…\(\+1,976 bytes;/);
  assert.match(human, /"n": 5,/);
  assert.match(human, /"none": null/);
});

test('strings are cut on whole characters and the bytes left out are UTF-8 bytes', () => {
  const s = 'é'.repeat(1000); // 2,000 bytes
  const cut = shortenString(s, 1023);
  assert.equal(cut, `${'é'.repeat(511)}${omittedNote(978)}`);
  assert.equal(shortenString('short', 1024), 'short');
  assert.equal(shortenString(s, 0), s);
  assert.deepEqual(shortenLongStrings({ a: ['abcdef'] }, 3), { a: [`abc${omittedNote(3)}`] });
});
