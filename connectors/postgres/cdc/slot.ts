import pg from 'pg';
import { SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import type { OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import { parseLsn } from './lsn.ts';

const log = createLogger('cdc.postgres');

/**
 * The server-side objects of the CDC source: the publication (with REPLICA IDENTITY FULL on its
 * tables, so a delete carries the whole last row image the oltp schemas require), and the
 * logical slot, created over a replication connection with an exported snapshot.
 */

type Queryable = Pick<pg.Client, 'query'>;

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('PG_QUERY_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** The publication exists and publishes insert, update and delete of every table; idempotent. */
export async function ensurePublication(db: Queryable, publication: string, tables: readonly OltpTable[]) {
  const name = pg.escapeIdentifier(publication);
  await step(`ensuring publication ${publication}`, async () => {
    const exists = await db.query('select 1 from pg_publication where pubname = $1', [publication]);
    const list = tables.map((t) => pg.escapeIdentifier(t)).join(', ');
    if (!exists.rowCount) {
      try {
        await db.query(`create publication ${name} for table ${list} with (publish = 'insert, update, delete')`);
        log.info({ publication, tables }, 'created publication');
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '42710') throw err; // created concurrently
      }
    }
    const have = await db.query<{ tablename: string }>(
      'select tablename from pg_publication_tables where pubname = $1 and schemaname = current_schema()',
      [publication],
    );
    const missing = tables.filter((t) => !have.rows.some((r) => r.tablename === t));
    if (missing.length) {
      await db.query(`alter publication ${name} add table ${missing.map((t) => pg.escapeIdentifier(t)).join(', ')}`);
      log.info({ publication, tables: missing }, 'added tables to the publication');
    }
  });
}

/** Every table logs whole old rows: a delete (and an update) then carries the full last image. */
export async function ensureReplicaIdentityFull(db: Queryable, tables: readonly OltpTable[]): Promise<void> {
  await step('setting REPLICA IDENTITY FULL', async () => {
    const { rows } = await db.query<{ relname: string; relreplident: string }>(
      `select relname, relreplident from pg_class where oid = any($1::regclass[])`,
      [tables.map((t) => pg.escapeIdentifier(t))],
    );
    for (const r of rows.filter((x) => x.relreplident !== 'f')) {
      await db.query(`alter table ${pg.escapeIdentifier(r.relname)} replica identity full`);
      log.info({ table: r.relname }, 'set REPLICA IDENTITY FULL (deletes carry the whole row)');
    }
  });
}

/** What pg_replication_slots says about a slot. */
export interface SlotState {
  database: string | null;
  plugin: string | null;
  active: boolean;
  activePid: number | null;
  confirmedFlush: bigint | null;
  /** reserved, extended, unreserved or lost (lost: invalidated, it can never stream again). */
  walStatus: string | null;
  invalidationReason: string | null;
}

/** The slot, or undefined when it does not exist. */
export async function readSlot(db: Queryable, slot: string): Promise<SlotState | undefined> {
  const { rows } = await step(`reading slot ${slot}`, () =>
    db.query(
      `select database, plugin, active, active_pid, confirmed_flush_lsn::text as confirmed, wal_status,
              to_jsonb(s)->>'invalidation_reason' as invalidation_reason
         from pg_replication_slots s where slot_name = $1`,
      [slot],
    ),
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    database: r.database,
    plugin: r.plugin,
    active: r.active,
    activePid: r.active_pid,
    confirmedFlush: r.confirmed ? parseLsn(r.confirmed) : null,
    walStatus: r.wal_status,
    invalidationReason: r.invalidation_reason,
  };
}

/** CDC_SLOT_INVALIDATED when the server has invalidated the slot (its WAL is gone). */
export function checkSlotUsable(slot: string, state: SlotState, database: string): void {
  if (state.walStatus === 'lost' || state.invalidationReason) {
    throw new SluiceError(
      'CDC_SLOT_INVALIDATED',
      `replication slot ${slot} was invalidated (${state.invalidationReason ?? 'wal_status lost'}): ` +
        'changes since its confirmed LSN are gone from the WAL',
      { details: { slot } },
    );
  }
  if (state.plugin !== 'pgoutput' || state.database !== database) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `replication slot ${slot} belongs to database ${state.database} with plugin ${state.plugin}; ` +
        `the CDC source needs a pgoutput slot on ${database}: choose another SLUICE_CDC_SLOT`,
    );
  }
}

/** Drops the slot if it exists (waiting for a just-ended stream to release it). */
export async function dropSlot(db: Queryable, slot: string): Promise<void> {
  await step(`dropping slot ${slot}`, () =>
    db.query(
      `select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active`,
      [slot],
    ),
  );
}

/** A new slot and the snapshot it was created at, valid while `session` stays open and idle. */
export interface CreatedSlot {
  session: pg.Client;
  consistentPoint: bigint;
  snapshotName: string;
}

/**
 * Creates the slot over a replication connection, exporting the snapshot of its consistent
 * point: a read in that snapshot plus the stream from that point is every row exactly once.
 */
export async function createSlotWithSnapshot(conf: pg.ClientConfig, slot: string): Promise<CreatedSlot> {
  const session = new pg.Client({ ...conf, replication: 'database' } as pg.ClientConfig);
  try {
    await session.connect();
    const { rows } = await session.query(
      `CREATE_REPLICATION_SLOT ${pg.escapeIdentifier(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    log.info({ slot, consistentPoint: rows[0].consistent_point }, 'created replication slot');
    return { session, consistentPoint: parseLsn(rows[0].consistent_point), snapshotName: rows[0].snapshot_name };
  } catch (err) {
    await session.end().catch(() => {});
    throw new SluiceError('PG_QUERY_FAILED', `creating replication slot ${slot}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
