import type pg from 'pg';
import { commentSql, createTableSql, evolveTableSql, type ExistingColumn } from './ddl.ts';
import type { Member } from './member.ts';
import { qualifiedName, quoteIdent } from './sqlQuote.ts';
import { offsetsTableSql } from './storedOffsets.ts';
import { warehouseLog as log } from './warehouseLog.ts';

/** Serialises DDL of every warehouse sink (several connectors and processes start at once). */
const DDL_LOCK_KEY = 'sluice.warehouse.ddl';

/**
 * Creates or evolves the member's table (and the offsets table), sets its comments and runs its
 * `setupSql`, in one transaction under an advisory lock. The member must be planned (`planMember`).
 *
 * @example await withRetry(() => ensureTable(pool, member), retryOptions);
 */
export async function ensureTable(pool: pg.Pool, m: Member): Promise<void> {
  const client = await pool.connect();
  let ok = false;
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock(hashtext($1))', [DDL_LOCK_KEY]);
    for (const sql of offsetsTableSql()) await client.query(sql);
    await client.query(`create schema if not exists ${quoteIdent(m.plan!.schema)}`);
    await createOrEvolve(client, m);
    for (const sql of m.cfg.setupSql) await client.query(sql);
    await client.query('commit');
    ok = true;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    client.release(ok ? undefined : true);
  }
}

/** A new table is created; an existing one evolves additively. Comments follow the schema either way. */
async function createOrEvolve(client: pg.PoolClient, m: Member): Promise<void> {
  const t = m.plan!;
  const relation = qualifiedName(t);
  const { rows } = await client.query<ExistingColumn>(
    `select a.attname as name, not a.attnotnull as nullable, format_type(a.atttypid, a.atttypmod) as type,
            col_description(a.attrelid, a.attnum) as comment
       from pg_attribute a
      where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [relation],
  );
  let tableComment: string | null = null;
  if (rows.length === 0) {
    for (const sql of createTableSql(t)) await client.query(sql);
  } else {
    const comment = await client.query<{ c: string | null }>(
      `select obj_description(to_regclass($1), 'pg_class') as c`,
      [relation],
    );
    tableComment = comment.rows[0]?.c ?? null;
    const { statements, warnings } = evolveTableSql(t, rows);
    for (const w of warnings) log.warn({ sink: m.name, table: relation }, w);
    for (const sql of statements) await client.query(sql);
    if (statements.length) log.info({ sink: m.name, table: relation, changes: statements }, 'table evolved');
  }
  for (const sql of commentSql(t, rows, tableComment)) await client.query(sql);
}
