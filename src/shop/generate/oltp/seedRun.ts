import type pg from 'pg';
import { SluiceError } from '../../../core/errors.ts';
import { copyRows } from '../../oltp/copyRows.ts';
import type { Rng } from '../random.ts';

/** What every table's seeding shares: the client inside the seed transaction, the seed and the clock. */
export interface SeedRun {
  client: pg.Client;
  rng: Rng;
  /** "Now" of the generated timestamps (epoch ms). */
  baseTime: number;
  /** Days of order history before baseTime. */
  days: number;
  signal?: AbortSignal;
  /** Counts rows as they are sent, for the progress line. */
  onRows: (n: number) => void;
}

export const DAY_MS = 86_400_000;

/** ISO-8601 UTC, the COPY text of a timestamptz. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** Thrown by seedOltp when its signal aborts: the transaction was rolled back, nothing was written. */
export function seedAbortedError(): SluiceError {
  return new SluiceError('CLI_USAGE', 'seeding interrupted; the transaction was rolled back and nothing was written', {
    details: { aborted: true },
  });
}

/** Whether `err` is the error of an interrupted seed (the CLI then reports counts, not a failure). */
export function isSeedAborted(err: unknown): boolean {
  return err instanceof SluiceError && err.details?.aborted === true;
}

/** Throws `seedAbortedError()` once the run's signal has aborted. */
export function checkAborted(run: SeedRun): void {
  if (run.signal?.aborted) throw seedAbortedError();
}

/** COPYs `lines` into `table` within the seed run (progress counted, abortable). */
export function copyInto(run: SeedRun, table: string, columns: readonly string[], lines: Iterable<string>) {
  return copyRows(run.client, table, columns, lines, {
    onRows: run.onRows,
    signal: run.signal,
    abortError: seedAbortedError,
  });
}
