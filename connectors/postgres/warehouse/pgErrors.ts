import { isSluiceError, SluiceError } from '../../../src/core/errors.ts';
import type { Output } from '../../../src/topology/types.ts';

/**
 * What a Postgres failure means to the warehouse sink: retry it (the connection or the
 * concurrency), dead-letter the row (its values), or stop. And how it is reported without the
 * offending value.
 */

const RETRIABLE_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Connection loss, server shutdown, resource exhaustion, serialization failure, deadlock.
 *
 * @example withRetry(flush, { retries: 8, initialMs: 200, maxMs: 5000, retriable: isRetriablePgError })
 */
export function isRetriablePgError(err: unknown): boolean {
  if (isSluiceError(err)) return false;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (RETRIABLE_NET.has(code)) return true;
    return /^(08|53|57P0|58)/.test(code) || code === '40001' || code === '40P01';
  }
  // node-postgres reports a dropped connection without a SQLSTATE.
  return /connection|terminated|timeout|ECONN/i.test((err as Error)?.message ?? '');
}

/**
 * SQLSTATEs that blame a row, not the database or the connection: the same row fails on every
 * retry, so the sink isolates it and dead-letters it instead of stopping.
 * - Class 22, data exception: a value the column's type refuses — invalid text representation
 *   (22P02), numeric value out of range (22003), invalid byte sequence / a NUL byte (22021),
 *   untranslatable character (22P05: \u0000 in jsonb), datetime format or overflow (22007,
 *   22008), string too long (22001), and the rest of the class.
 * - 23502 not-null and 23514 check violations: a value the table's own constraints refuse.
 * Not 23505 (unique) or 23503 (foreign key): they depend on other rows and on timing (another
 * writer, a parent row not loaded yet), not on this row alone. Connection loss, serialization
 * failures and deadlocks stay retriable (isRetriablePgError) and never dead-letter.
 *
 * @example isRowRejectedSqlState('22003') // true
 */
export function isRowRejectedSqlState(code: unknown): boolean {
  return typeof code === 'string' && (/^22[0-9A-Z]{3}$/.test(code) || code === '23502' || code === '23514');
}

/**
 * A flush failed because of the values of a row: the server refused one (see
 * isRowRejectedSqlState), or the sink could not write it as COPY text.
 */
export function isRowRejection(err: unknown): boolean {
  if (isSluiceError(err)) return isSluiceError(err, 'SINK_RECORD_REJECTED');
  return isRowRejectedSqlState((err as { code?: unknown })?.code);
}

/**
 * What a dead letter says about a Postgres rejection: the server's message with the offending
 * value withheld (Postgres quotes it at the end of some messages, e.g. `invalid input syntax for
 * type integer: "abc"`; a dead letter's message describes the failure, never carries the record,
 * and the runner logs it), plus the column when the server names it.
 *
 * @example
 *   describeRowRejection(err) // { message: 'invalid input syntax for type integer: (value withheld)', code: '22P02' }
 */
export function describeRowRejection(err: unknown): { message: string; code?: string } {
  if (isSluiceError(err))
    return { message: err.message, code: typeof err.details?.sqlState === 'string' ? err.details.sqlState : undefined };
  const e = err as { message?: unknown; code?: unknown; column?: unknown; where?: unknown };
  let message = String(e?.message ?? err).replace(/: ".*"$/s, ': (value withheld)');
  const column =
    typeof e?.column === 'string'
      ? e.column
      : typeof e?.where === 'string'
        ? /, column ([^:]+):/.exec(e.where)?.[1]
        : undefined;
  if (column) message += ` (column ${column})`;
  return { message, code: typeof e?.code === 'string' ? e.code : undefined };
}

/**
 * A Postgres failure as PG_QUERY_FAILED (its SQLSTATE in details), with the first record's
 * coordinates; Sluice errors pass as they are.
 */
export function asPgError(err: unknown, message: string, source?: Output['source']): SluiceError {
  if (isSluiceError(err)) return err;
  const pgErr = err as { code?: string; message?: string };
  return new SluiceError('PG_QUERY_FAILED', `${message}: ${pgErr?.message ?? String(err)}`, {
    cause: err,
    coordinates: source && { topic: source.topic, partition: source.partition, offset: source.offset },
    details: { sqlState: pgErr?.code },
  });
}
