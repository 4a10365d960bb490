import { REDACTED } from '../pii/maskValue.ts';

/**
 * A decoded value with its marked fields shown as `[redacted]` (nulls stay null), and the names
 * of the fields it hid, for `inspect` without `--show-pii`. Non-record values pass unchanged.
 *
 * @example maskForDisplay({ email: 'a@b.c', country: 'DE' }, ['email']).masked // ['email']
 */
export function maskForDisplay(value: unknown, marked: readonly string[]): { value: unknown; masked: string[] } {
  if (!marked.length || value === null || typeof value !== 'object' || Array.isArray(value))
    return { value, masked: [] };
  const out = { ...(value as Record<string, unknown>) };
  const masked: string[] = [];
  for (const name of marked) {
    if (!Object.hasOwn(out, name) || out[name] === null) continue;
    out[name] = REDACTED;
    masked.push(name);
  }
  return { value: out, masked };
}
