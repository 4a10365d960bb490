import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { hmacHasher, REDACTED, stringMasker, truncatePii } from '../../../src/pii/maskValue.ts';

const KEY = 'unit-test-key-0123456789';

test('hash is HMAC-SHA-256 of the UTF-8 value under the key, as 64 hex: stable, keyed, distinct per input', () => {
  const hash = hmacHasher(KEY);
  const expected = createHmac('sha256', KEY).update('ada@example.com', 'utf8').digest('hex');
  assert.equal(hash('ada@example.com'), expected);
  assert.equal(hash('ada@example.com'), hmacHasher(KEY)('ada@example.com'), 'same input and key, same hash (joins)');
  assert.match(hash('Zoë Ünal'), /^[0-9a-f]{64}$/);
  assert.notEqual(hash('ada@example.com'), hash('Ada@example.com'));
  assert.notEqual(hmacHasher(`${KEY}x`)('ada@example.com'), expected, 'another key, another hash');
  assert.notEqual(expected, createHmac('sha256', '').update('ada@example.com').digest('hex'));
});

test('truncate keeps a small part by kind: email domain, initials, last two digits, first characters', () => {
  assert.equal(truncatePii('email', 'ada.lovelace@example.com'), '***@example.com');
  assert.equal(truncatePii('email', 'no-at-sign'), '***');
  assert.equal(truncatePii('name', 'Ada  King Lovelace'), 'A. K. L.');
  assert.equal(truncatePii('name', 'Émile Zola'), 'É. Z.');
  assert.equal(truncatePii('phone', '+49 (30) 1234-5678'), '***78');
  assert.equal(truncatePii('address', 'Unter den Linden 1'), 'Unt***');
  assert.equal(truncatePii('free_text', '/p/42'), '/p/42', 'short text is short enough');
  assert.equal(truncatePii('free_text', '/search?q=ada@example.com'), '/search?***');
  assert.equal(
    truncatePii('free_text', '😀😀😀😀😀😀😀😀😀'),
    '😀😀😀😀😀😀😀😀***',
    'cut between characters, not bytes',
  );
});

test('each policy maps a string to a string; hash without a key is refused', () => {
  const hash = hmacHasher(KEY);
  assert.equal(stringMasker('hash', hash)('email', 'a@b.c'), hash('a@b.c'));
  assert.equal(stringMasker('redact')('name', 'Ada'), REDACTED);
  assert.equal(stringMasker('truncate')('email', 'a@b.c'), '***@b.c');
  assert.equal(stringMasker('keep')('free_text', 'as is'), 'as is');
  assert.throws(() => stringMasker('hash'), /needs a key/);
});

test('the hasher remembers recent hashes without changing one: repeated, evicted and long values hash as HMAC-SHA-256', () => {
  const key = 'k'.repeat(32);
  const hash = hmacHasher(key);
  const direct = (v: string) => createHmac('sha256', key).update(v, 'utf8').digest('hex');
  assert.equal(hash('ada@example.com'), direct('ada@example.com'));
  assert.equal(hash('ada@example.com'), direct('ada@example.com'), 'remembered');
  for (let i = 0; i < 12_000; i++) hash(`user-agent-${i}`); // past the memo's bound: the first are forgotten
  assert.equal(hash('user-agent-0'), direct('user-agent-0'));
  assert.equal(hash('user-agent-11999'), direct('user-agent-11999'));
  const long = 'x'.repeat(1000);
  assert.equal(hash(long), direct(long));
  assert.notEqual(hmacHasher('other-key'.repeat(4))('ada@example.com'), direct('ada@example.com'), 'keyed');
});
