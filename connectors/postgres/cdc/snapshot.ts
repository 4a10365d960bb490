import pg from 'pg';
import { SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import type { CdcConnection } from './cdcConnection.ts';
import { byTopic, changeRecords, requestsOf, type TableTarget } from './changeRecords.ts';
import { formatLsn } from './lsn.ts';
import type { CreatedSlot } from './slot.ts';

const log = createLogger('cdc.postgres');

/**
 * The initial snapshot: every row of the tables as op 'r', read in the snapshot the slot exported
 * at its consistent point (so the stream from that point carries exactly the later changes), by
 * keyset pages over the primary key, each page produced and acknowledged before the next.
 * Returns the rows published per table.
 */
export async function publishSnapshot(
  conn: CdcConnection,
  targets: readonly TableTarget[],
  created: CreatedSlot,
  pageSize: number,
  onRows?: (table: string, rows: number) => void,
): Promise<Record<string, number>> {
  const db = await conn.connectPostgres('sluice-cdc-snapshot', true);
  const counts: Record<string, number> = {};
  try {
    await db.query('begin isolation level repeatable read read only');
    await db.query(`set transaction snapshot ${pg.escapeLiteral(created.snapshotName)}`);
    // Imported: the snapshot now lives in this transaction, the slot's session may close.
    await created.session.end().catch(() => {});
    for (const target of targets)
      counts[target.spec.table] = await publishTable(conn, db, target, created, pageSize, onRows);
    await db.query('commit');
  } catch (err) {
    throw err instanceof SluiceError
      ? err
      : new SluiceError('PG_QUERY_FAILED', `CDC snapshot: ${(err as Error).message}`, { cause: err });
  } finally {
    await created.session.end().catch(() => {});
    await db.end().catch(() => {});
  }
  log.info({ rows: counts, lsn: formatLsn(created.consistentPoint) }, 'CDC snapshot published');
  return counts;
}

async function publishTable(
  conn: CdcConnection,
  db: pg.Client,
  target: TableTarget,
  created: CreatedSlot,
  pageSize: number,
  onRows?: (table: string, rows: number) => void,
): Promise<number> {
  const table = pg.escapeIdentifier(target.spec.table);
  const pk = pg.escapeIdentifier(target.spec.pk);
  let after: string | undefined;
  let total = 0;
  for (;;) {
    const { rows } = await db.query(
      after === undefined
        ? `select * from ${table} order by ${pk} limit $1`
        : `select * from ${table} where ${pk} > $2::bigint order by ${pk} limit $1`,
      after === undefined ? [pageSize] : [pageSize, after],
    );
    if (!rows.length) break;
    const records = rows.flatMap((row, i) =>
      changeRecords(conn.serde!, target, 'r', row, { lsn: created.consistentPoint, seq: total + i }),
    );
    for (const request of requestsOf(records)) await conn.produce(byTopic(request));
    total += rows.length;
    onRows?.(target.spec.table, rows.length);
    after = String(rows[rows.length - 1][target.spec.pk]);
    if (rows.length < pageSize) break;
  }
  return total;
}
