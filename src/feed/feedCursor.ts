/**
 * The live feed's resume cursor: the Kafka position a client has seen, per metric topic-partition,
 * as base64url JSON `{"metrics.revenue_per_minute/0": 124, ...}`. Each number is the NEXT offset
 * the client has not received (Kafka's own convention for committed offsets), so a cursor stays
 * valid across feed restarts and across feed instances: it names the log, not a server's memory.
 *
 * @example
 *   encodeCursor(new Map([['metrics.revenue_per_minute/0', 124]]));
 *   // 'eyJtZXRyaWNzLnJldmVudWVfcGVyX21pbnV0ZS8wIjoxMjR9'
 */

/** A topic-partition's name inside a cursor: `<topic>/<partition>`. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** The topic and partition a `<topic>/<partition>` key names. */
export function parseTpKey(key: string): { topic: string; partition: number } {
  const slash = key.lastIndexOf('/');
  return { topic: key.slice(0, slash), partition: Number(key.slice(slash + 1)) };
}

/** Cursors longer than this are refused before decoding (a cursor names a few dozen partitions). */
export const MAX_CURSOR_CHARS = 16_384;
const MAX_CURSOR_ENTRIES = 1_000;
const TP_PATTERN = /^[A-Za-z0-9._-]{1,249}\/\d{1,6}$/;

/** The cursor of these positions (next offset per `<topic>/<partition>`). */
export function encodeCursor(positions: ReadonlyMap<string, number>): string {
  const obj: Record<string, number> = {};
  for (const [tp, offset] of positions) obj[tp] = offset;
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

/** A cursor a client sent that cannot be used; its message tells the client why. */
export class CursorError extends Error {}

/** Decodes and validates a cursor; throws CursorError with a message a client can act on. */
export function decodeCursor(cursor: unknown): Map<string, number> {
  if (typeof cursor !== 'string' || cursor.length === 0) throw new CursorError('cursor must be a non-empty string');
  if (cursor.length > MAX_CURSOR_CHARS) throw new CursorError(`cursor is longer than ${MAX_CURSOR_CHARS} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new CursorError('cursor is not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('cursor does not decode to JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CursorError('cursor is not a map of positions');
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length > MAX_CURSOR_ENTRIES)
    throw new CursorError(`cursor names more than ${MAX_CURSOR_ENTRIES} partitions`);
  const out = new Map<string, number>();
  for (const [tp, offset] of entries) {
    if (!TP_PATTERN.test(tp))
      throw new CursorError(`cursor entry ${JSON.stringify(tp.slice(0, 80))} is not <topic>/<partition>`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
      throw new CursorError(`cursor offset for ${tp} is not a whole number >= 0`);
    out.set(tp, offset);
  }
  return out;
}
