/**
 * Long strings shortened for people (`sluice inspect` without --json): a DLQ record of a
 * megabyte printed as one line of base64 hid everything around it. Each string longer than the
 * limit keeps its first `maxBytes` bytes (UTF-8) and says how much was left out.
 */

/** The note that replaces what was left out of a string. */
export function omittedNote(bytes: number): string {
  return `…(+${bytes.toLocaleString('en')} bytes; --max-bytes to show more)`;
}

/** `s` cut to at most `maxBytes` UTF-8 bytes (whole characters), with the note; `s` when it fits or 0. */
export function shortenString(s: string, maxBytes: number): string {
  if (maxBytes <= 0 || s.length <= maxBytes / 3) return s; // a UTF-16 unit is at most 3 UTF-8 bytes
  const total = Buffer.byteLength(s);
  if (total <= maxBytes) return s;
  let kept = 0;
  let end = 0;
  for (const ch of s) {
    const size = Buffer.byteLength(ch);
    if (kept + size > maxBytes) break;
    kept += size;
    end += ch.length;
  }
  return `${s.slice(0, end)}${omittedNote(total - kept)}`;
}

/**
 * A copy of `value` with every string longer than `maxBytes` shortened (0: no limit). Arrays
 * and plain objects are walked; keys are kept as they are.
 *
 * @example shortenLongStrings({ bytesBase64: 'QUFB…' }, 1024)
 */
export function shortenLongStrings(value: unknown, maxBytes: number): unknown {
  if (maxBytes <= 0) return value;
  if (typeof value === 'string') return shortenString(value, maxBytes);
  if (Array.isArray(value)) return value.map((v) => shortenLongStrings(v, maxBytes));
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, shortenLongStrings(v, maxBytes)]),
    );
  return value;
}
