import type { TableResult } from './flushTransaction.ts';
import type { Cut } from './member.ts';
import { warehouseBatchCommitted } from './loadEvents.ts';
import { asPgError } from './pgErrors.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/**
 * The end of a flush for its rows: committed (stats counted, acks released) or given up (acks
 * failed, so the runner never commits past them).
 */

/** Counts a committed flush in each member's stats; `started` from `process.hrtime.bigint()`. */
export function accountCommitted(cut: Cut, result: TableResult[], started: bigint): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const now = Date.now();
  cut.forEach(([m, rows], i) => {
    const st = m.stats;
    st.batches++;
    st.rows += result[i].rows;
    st.bytes += result[i].bytes;
    st.skippedReplays += rows.length - result[i].rows;
    st.flushSeconds += seconds;
    st.lastFlushSeconds = seconds;
    st.lastFlushAt = now;
  });
  log.debug({ sinks: cut.map(([m], i) => `${m.name}:${result[i].rows}`), seconds }, 'warehouse batch committed');
  const loaded = cut.flatMap(([m], i) => (result[i].rows > 0 ? [m.name] : []));
  if (loaded.length) warehouseBatchCommitted(loaded);
}

/** The rows are durable: their acks are released. */
export function releaseRows(cut: Cut): void {
  for (const [, rows] of cut) for (const o of rows) for (const a of o.acks) a.release();
}

/** The flush is given up: every row's ack fails with `err` (as PG_QUERY_FAILED unless a Sluice error). */
export function failRows(cut: Cut, err: unknown): void {
  if (!cut.length) return;
  const e = asPgError(
    err,
    `warehouse flush of ${cut.map(([m, rows]) => `${rows.length} records into ${m.name}`).join(', ')} failed`,
    cut[0]?.[1][0]?.source,
  );
  log.error({ sinks: cut.map(([m]) => m.name), err: e.toJSON() }, 'warehouse flush failed');
  for (const [m, rows] of cut) {
    m.stats.failures++;
    for (const o of rows) for (const a of o.acks) a.fail(e);
  }
}
