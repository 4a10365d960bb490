import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SluiceError } from '../../core/errors.ts';

/** Text sent per write: large enough that COPY runs at full speed, small enough to report progress. */
const CHUNK = 1 << 20;

export interface CopyRowsOptions {
  /** Called with the number of rows of each chunk sent. */
  onRows?: (n: number) => void;
  /** Aborting fails the COPY (its transaction rolls back) with `abortError()`. */
  signal?: AbortSignal;
  abortError?: () => Error;
}

/**
 * Streams rows, each a line in COPY text format (`copyTextRow`), into `table` through
 * COPY FROM STDIN, in ~1 MiB text chunks. Returns the number of rows.
 *
 * @example
 *   await copyRows(client, 'customers', ['customer_id', 'email'], [copyTextRow(['1', copyTextField(null)])]);
 */
export async function copyRows(
  client: pg.Client,
  table: string,
  columns: readonly string[],
  rows: Iterable<string>,
  opts: CopyRowsOptions = {},
): Promise<number> {
  const { onRows, signal } = opts;
  const aborted = () => opts.abortError?.() ?? new SluiceError('CLI_USAGE', `COPY into ${table} interrupted`);
  let count = 0;
  function* chunks(): Generator<string> {
    let buf = '';
    let inChunk = 0;
    for (const line of rows) {
      if (signal?.aborted && inChunk === 0) throw aborted(); // COPY fails, the transaction rolls back
      buf += line;
      count++;
      inChunk++;
      if (buf.length >= CHUNK) {
        yield buf;
        onRows?.(inChunk);
        buf = '';
        inChunk = 0;
      }
    }
    if (buf) {
      yield buf;
      onRows?.(inChunk);
    }
  }
  const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin with (format text)`));
  try {
    await pipeline(Readable.from(chunks(), { objectMode: false }), stream);
  } catch (err) {
    if (signal?.aborted) throw aborted();
    throw new SluiceError('PG_QUERY_FAILED', `COPY into ${table}: ${(err as Error).message}`, { cause: err });
  }
  return count;
}
