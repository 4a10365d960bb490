import { createHash } from 'node:crypto';
import type { TablePlan } from './avroToPg.ts';
import { qualifiedName, quoteIdent } from './sqlQuote.ts';

/**
 * The staging tables of a sink: session temp tables that COPY fills and the merge reads. Their
 * rows vanish at commit or rollback, so a failed flush leaves nothing behind.
 */

/**
 * Staging columns after the data columns: lineage, ordering, whether the record is a delete
 * (`deleteWhen`), and the arrival order in the batch.
 */
export const STAGE_EXTRA = [
  ['_topic', 'text'],
  ['_partition', 'integer'],
  ['_offset', 'bigint'],
  ['_key', 'text'],
  ['_timestamp', 'timestamptz'],
  ['_valid_from', 'timestamptz'],
  ['_deleted', 'boolean'],
  ['_seq', 'integer'],
] as const;

/**
 * Temp table names of a sink: a hash of its name, so any sink name gives a valid identifier.
 *
 * @example stageNames('silver.orders').stage // 'sluice_stage_<12 hex digits>'
 */
export function stageNames(sink: string): { stage: string; versions: string } {
  const h = createHash('sha1').update(sink).digest('hex').slice(0, 12);
  return { stage: `sluice_stage_${h}`, versions: `sluice_versions_${h}` };
}

/** Lineage columns an append COPY writes straight into the table (STAGE_EXTRA without the merge's helpers). */
export const APPEND_EXTRA = STAGE_EXTRA.slice(0, 5);

/**
 * Session temp tables (rows vanish at commit or rollback), created once per connection. Append
 * needs none: its rows go straight into the table (see `copySql`).
 */
export function stageTableSql(plan: TablePlan, sink: string): string[] {
  if (plan.mode === 'append') return [];
  const { stage, versions } = stageNames(sink);
  const cols = [
    ...plan.columns.map((c) => `${quoteIdent(c.name)} ${c.pgType}`),
    ...STAGE_EXTRA.map(([n, t]) => `${n} ${t}`),
  ];
  const sql = [`create temp table if not exists ${stage} (${cols.join(', ')}) on commit delete rows`];
  if (plan.mode === 'scd2')
    sql.push(`create temp table if not exists ${versions} (${cols.join(', ')}) on commit delete rows`);
  return sql;
}

/**
 * The `copy … from stdin` of a flush. Append copies into the table itself, data columns then
 * APPEND_EXTRA: the stored offsets, advanced in the same transaction, already keep a replay from
 * sending a row that landed, so a staging table and an `insert … on conflict do nothing` would
 * only write every row twice. The other modes copy into the staging table (data columns, then
 * STAGE_EXTRA) for their merge.
 */
export function copySql(plan: TablePlan, sink: string): string {
  if (plan.mode === 'append') {
    const cols = [...plan.columns.map((c) => quoteIdent(c.name)), ...APPEND_EXTRA.map(([n]) => quoteIdent(n))];
    return `copy ${qualifiedName(plan)} (${cols.join(', ')}) from stdin`;
  }
  const cols = [...plan.columns.map((c) => quoteIdent(c.name)), ...STAGE_EXTRA.map(([n]) => n)];
  return `copy pg_temp.${stageNames(sink).stage} (${cols.join(', ')}) from stdin`;
}
