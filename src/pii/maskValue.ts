import { createHmac, createSecretKey } from 'node:crypto';
import type { PiiKind, PiiPolicy } from './piiPolicy.ts';

/**
 * The masking functions: each turns a string into a string, so a masked record still matches
 * its Avro schema (only string fields may carry a mark; nulls are never passed in).
 */

/** What `redact` leaves of any value. */
export const REDACTED = '[redacted]';

/** Masks one value under a policy; `hash` needs the keyed hasher (see `hmacHasher`). */
export type StringMasker = (kind: PiiKind, value: string) => string;

/**
 * A keyed HMAC-SHA-256 of the UTF-8 value as 64 hex characters: the same input and key give the
 * same output, so joins and distinct counts work on hashed columns; without the key the input
 * cannot be confirmed by hashing guesses. The key stays in the closure (nothing to log).
 *
 * @example hmacHasher('k'.repeat(32))('ada@example.com') // '5f…' (64 hex)
 */
export function hmacHasher(key: string): (value: string) => string {
  const secret = createSecretKey(Buffer.from(key, 'utf8'));
  // Marked values repeat (user agents, page URLs, a customer's email in every extract) and an
  // HMAC per value was a tenth of the clickstream runner's CPU: the recent ones are remembered,
  // a bounded number of short values, oldest forgotten first.
  const recent = new Map<string, string>();
  return (value) => {
    const known = recent.get(value);
    if (known !== undefined) return known;
    const hash = createHmac('sha256', secret).update(value, 'utf8').digest('hex');
    if (value.length <= MEMO_MAX_VALUE_CHARS) {
      if (recent.size >= MEMO_ENTRIES) recent.delete(recent.keys().next().value as string);
      recent.set(value, hash);
    }
    return hash;
  };
}

/** How many hashes `hmacHasher` remembers, of values up to this long: a few MiB at most. */
const MEMO_ENTRIES = 10_000;
const MEMO_MAX_VALUE_CHARS = 256;

/**
 * A small part of a value that says little about the person, by kind: an email's domain
 * (`***@example.com`), a name's initials (`A. L.`), a phone number's last two digits (`***42`),
 * an address's and free text's first characters (`12 ***`, `/p/42?q=***`).
 *
 * @example truncatePii('email', 'ada@example.com') // '***@example.com'
 */
export function truncatePii(kind: PiiKind, value: string): string {
  switch (kind) {
    case 'email': {
      const at = value.lastIndexOf('@');
      return at >= 0 ? `***${value.slice(at)}` : '***';
    }
    case 'name':
      return value
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => `${[...w][0]}.`)
        .join(' ');
    case 'phone': {
      const digits = value.replace(/\D/g, '');
      return `***${digits.slice(-2)}`;
    }
    case 'address':
      return keepFirst(value, 3);
    case 'free_text':
      return keepFirst(value, 8);
  }
}

function keepFirst(value: string, chars: number): string {
  const cps = [...value];
  return cps.length <= chars ? value : `${cps.slice(0, chars).join('')}***`;
}

/**
 * The masker of a policy (`keep` returns the value itself). `hash` without a hasher is a bug in
 * the caller: the key is checked at start-up (`piiMaskingOf`).
 *
 * @example stringMasker('truncate')('name', 'Ada Lovelace') // 'A. L.'
 */
export function stringMasker(policy: PiiPolicy, hash?: (value: string) => string): StringMasker {
  switch (policy) {
    case 'hash':
      if (!hash) throw new Error('the hash policy needs a key');
      return (_kind, value) => hash(value);
    case 'redact':
      return () => REDACTED;
    case 'truncate':
      return truncatePii;
    case 'keep':
      return (_kind, value) => value;
  }
}
