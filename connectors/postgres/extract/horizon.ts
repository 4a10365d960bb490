import type pg from 'pg';
import { errorCode } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import type { PostgresIncrementalSourceConfig } from './config.ts';
import { isoUtc } from './isoUtc.ts';

const log = createLogger('extract.postgres');

/** What `readHorizon` found. */
export interface Horizon {
  /** The stored position must stay strictly before this (ISO UTC, microseconds). */
  cap: string;
  observedAt: string;
  blocking: { pid: number; xactStart: string } | null;
  /** Sessions whose transaction state this role may not see. */
  hidden: number;
  snapshotXmin: string;
}

/**
 * The time before which every row is visible to a snapshot taken after this call.
 *
 * Why it holds: the only writers of `updated_at` are the column default and the update trigger,
 * both `clock_timestamp()` (see oltpDdl.ts), so a row written by transaction T carries
 * `updated_at >= T.xact_start`, and it is stamped while T runs a statement. Take a transaction T
 * not yet committed when our snapshot is taken (later than this call). Either T was already
 * running a statement or holding an xid here, so it is listed below and the cap is at most its
 * start, hence at most the row's `updated_at`; or it wrote nothing yet and will stamp its rows
 * after `statement_timestamp()` of this query, which is also an upper bound of the cap. So every
 * invisible row has `updated_at >= cap`, and a position below the cap can never pass one: rows at
 * or after the cap are still published (fresh data, duplicates are fine) but re-read next run.
 *
 * `pg_snapshot_xmin(pg_current_snapshot())` is logged alongside to correlate with `xmin` of rows.
 * Sessions of other databases cannot write these tables and are ignored. A role without
 * pg_read_all_stats sees other roles' sessions as `<insufficient privilege>`: then the safety lag
 * applies as well (and a warning says what to grant). Limits: rows given an explicit `updated_at`
 * on insert (bulk loads setting it by hand), prepared (2PC) transactions and server clock jumps
 * backwards are outside this guarantee; `watermark: 'safety-lag'` covers what its lag covers.
 */
export async function readHorizon(
  client: pg.Client,
  source: Pick<PostgresIncrementalSourceConfig, 'watermark' | 'safetyLagMs'>,
): Promise<Horizon> {
  const { rows } = await client.query({
    name: 'sluice_extract_horizon',
    text: `with sessions as (
  select pid, xact_start, query = '<insufficient privilege>' as hidden
  from pg_stat_activity
  where datname = current_database() and pid <> pg_backend_pid()
    and (backend_type = 'client backend' or backend_type is null)
    and (backend_xid is not null or state = 'active' or query = '<insufficient privilege>')
    -- Other extractors read in READ ONLY transactions (no xid, ever): their long snapshots write nothing.
    and not (application_name = 'sluice-extract' and backend_xid is null)
)
select ${isoUtc('statement_timestamp()')} as observed_at,
       ${isoUtc('min(xact_start)')} as oldest_start,
       (array_agg(pid order by xact_start) filter (where xact_start is not null))[1] as oldest_pid,
       (count(*) filter (where hidden))::int as hidden,
       ${isoUtc(`least(
         statement_timestamp(),
         case when $1 = 'transaction-aware' then min(xact_start) end,
         case when $1 = 'safety-lag' or bool_or(hidden)
           then statement_timestamp() - $2::bigint * interval '1 millisecond' end)`)} as cap,
       pg_snapshot_xmin(pg_current_snapshot())::text as snapshot_xmin
from sessions`,
    values: [source.watermark, source.safetyLagMs],
  });
  const r = rows[0];
  return {
    cap: r.cap,
    observedAt: r.observed_at,
    blocking: r.oldest_pid === null ? null : { pid: Number(r.oldest_pid), xactStart: r.oldest_start },
    hidden: r.hidden,
    snapshotXmin: r.snapshot_xmin,
  };
}

/** Logs what holds the position back: hidden sessions (a warning: a grant fixes it) and the oldest writer. */
export function logHorizon(horizon: Horizon, where: { database: string; table: string; safetyLagMs: number }): void {
  if (horizon.hidden > 0) {
    log.warn(
      {
        code: errorCode('EXTRACT_HORIZON_HIDDEN'),
        database: where.database,
        hidden: horizon.hidden,
        safetyLagMs: where.safetyLagMs,
      },
      'some sessions are hidden from this role in pg_stat_activity; holding the position back by the safety lag ' +
        'too (grant pg_read_all_stats to the extract role)',
    );
  }
  if (horizon.blocking)
    log.debug(
      { table: where.table, pid: horizon.blocking.pid, xactStart: horizon.blocking.xactStart },
      'an open transaction holds the extract position back',
    );
}
