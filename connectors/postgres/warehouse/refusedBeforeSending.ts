import type { Output, SinkRecordError } from '../../../src/topology/types.ts';
import type { Cut } from './member.ts';

/**
 * Rows Postgres can never take, found without a round trip: text holding a NUL byte (the server
 * would say 22021 and fail the whole batch; found here, the row is dead-lettered without one).
 */

/** Refusals found before sending: they are dead-lettered as they are, not described from a server error. */
const refusals = new WeakSet<object>();

/** Was `why` made by `refusedBeforeSending` (rather than thrown by the server)? */
export function isRefusedBeforeSending(why: unknown): why is SinkRecordError {
  return typeof why === 'object' && why !== null && refusals.has(why);
}

/** A table's first text column holding a NUL byte (or a key that does): Postgres text can never store `\u0000`. */
function nulColumnOf(o: Output, textColumns: string[]): string | undefined {
  const v = (o.value ?? {}) as Record<string, unknown>;
  for (const c of textColumns) {
    const x = v[c];
    if (typeof x === 'string' && x.includes('\u0000')) return c;
  }
  const k = o.key;
  if (typeof k === 'string' ? k.includes('\u0000') : Buffer.isBuffer(k) && k.includes(0)) return '_key';
  return undefined;
}

/**
 * The rows of `cut` a table refuses for certain, and why (SQLSTATE 22021, the column named).
 *
 * @example const refused = refusedBeforeSending(cut); if (refused.size) await isolate(...);
 */
export function refusedBeforeSending(cut: Cut): Map<Output, SinkRecordError> {
  const refused = new Map<Output, SinkRecordError>();
  for (const [m, rows] of cut) {
    const cols = m.textColumns ?? [];
    for (const o of rows) {
      const column = nulColumnOf(o, cols);
      if (column === undefined) continue;
      const why: SinkRecordError = {
        sink: m.name,
        code: '22021',
        message:
          `invalid byte sequence for encoding "UTF8": 0x00 (column ${column}; found before sending:` +
          ' Postgres text cannot hold a NUL byte)',
      };
      refusals.add(why);
      refused.set(o, why);
    }
  }
  return refused;
}
