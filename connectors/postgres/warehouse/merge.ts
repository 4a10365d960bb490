import type { TablePlan } from './avroToPg.ts';
import { qualifiedName, quoteIdent } from './sqlQuote.ts';
import { STAGE_EXTRA, stageNames } from './stage.ts';

/**
 * The statements that merge a staged batch into its table, one set per mode: append ignores
 * rows it already has (replays), upsert keeps the newer version of each key, SCD2 closes the
 * current version and opens new ones only where a tracked column changes. With deletes
 * (`deleteWhen`), a key whose newest staged record is a delete loses its row (upsert) or its
 * current version is closed (SCD2), by the same "newer wins" rule as an update.
 */

/** What every mode's statements are built from. */
interface MergeParts {
  plan: TablePlan;
  stage: string;
  versions: string;
  target: string;
  /** Quoted data columns, in field order. */
  data: string[];
  /** Quoted key columns. */
  keys: string[];
  /** Staged rows may be deletes (`_deleted`). */
  deletes: boolean;
}

/**
 * The statements that merge the staged batch into the target, per mode (run in order, in the
 * flush transaction, after COPY).
 *
 * @example for (const sql of mergeSql(plan, 'silver.orders')) await client.query(sql);
 */
export function mergeSql(plan: TablePlan, sink: string, deletes = false): string[] {
  const { stage, versions } = stageNames(sink);
  const parts: MergeParts = {
    plan,
    stage,
    versions,
    target: qualifiedName(plan),
    data: plan.columns.map((c) => quoteIdent(c.name)),
    keys: plan.keyColumns.map(quoteIdent),
    deletes,
  };
  switch (plan.mode) {
    case 'append':
      return []; // copied straight into the table (see copySql)
    case 'upsert':
      return parts.deletes ? [upsertSql(parts), upsertDeleteSql(parts)] : [upsertSql(parts)];
    case 'scd2':
      return scd2Sql(parts);
  }
}

/** `s` is newer than the table's row `t`: greater ordering value, or on a tie (or none) the later record. */
function newerSql(plan: TablePlan, s: string): string {
  const ord = plan.orderingColumn ? quoteIdent(plan.orderingColumn) : '';
  // Same partition: the greater offset is the newer record. Across partitions offsets say
  // nothing, so the later write wins.
  const byOffset =
    `(${s}."_topic" is distinct from t."_topic" or ${s}."_partition" is distinct from t."_partition"` +
    ` or ${s}."_offset" >= t."_offset")`;
  return ord ? `t.${ord} is null or ${s}.${ord} > t.${ord} or (${s}.${ord} = t.${ord} and ${byOffset})` : byOffset;
}

/** The newest staged record of each key (`cols` of it): the greatest ordering value, then the last in the batch. */
function latestPerKeySql({ plan, stage, keys }: MergeParts, cols: string[]): string {
  const ord = plan.orderingColumn ? quoteIdent(plan.orderingColumn) : '';
  return (
    `select distinct on (${keys.join(', ')}) ${cols.join(', ')} from pg_temp.${stage}\n` +
    `order by ${keys.join(', ')}${ord ? `, ${ord} desc nulls last` : ''}, _seq desc`
  );
}

function upsertSql(parts: MergeParts): string {
  const { plan, target, data, keys } = parts;
  const cols = [...data, '"_topic"', '"_partition"', '"_offset"'];
  const nonKey = [
    ...plan.columns.filter((c) => !plan.keyColumns.includes(c.name)).map((c) => quoteIdent(c.name)),
    '"_topic"',
    '"_partition"',
    '"_offset"',
  ];
  const values = [...data, '_topic', '_partition', '_offset'];
  const set = [...nonKey.map((c) => `${c} = excluded.${c}`), '"_loaded_at" = now()'];
  // With deletes, a key whose newest record is a delete is left to upsertDeleteSql.
  const source = parts.deletes
    ? `select ${values.join(', ')} from (${latestPerKeySql(parts, [...values, '_deleted'])}) l where not l._deleted`
    : latestPerKeySql(parts, values);
  return `insert into ${target} as t (${cols.join(', ')})
${source}
on conflict (${keys.join(', ')}) do update set ${set.join(', ')}
where ${newerSql(plan, 'excluded')}`;
}

/** Deletes the row of each key whose newest staged record is a delete newer than the row. */
function upsertDeleteSql(parts: MergeParts): string {
  const { plan, target, keys } = parts;
  const ord = plan.orderingColumn ? [quoteIdent(plan.orderingColumn)] : [];
  const cols = [...keys, ...ord, '_topic', '_partition', '_offset', '_deleted'];
  const on = keys.map((k) => `t.${k} = d.${k}`).join(' and ');
  return `delete from ${target} t using (${latestPerKeySql(parts, cols)}) d
where d._deleted and ${on} and (${newerSql(plan, 'd')})`;
}

function scd2Sql(parts: MergeParts): string[] {
  const sql = [scd2NewVersionsSql(parts), scd2CloseCurrentSql(parts), scd2InsertVersionsSql(parts)];
  return parts.deletes ? [...sql, scd2CloseDeletedSql(parts)] : sql;
}

/**
 * 1. The new versions: per key and instant the last record; only records newer than the current
 *    version; only where the tracked attributes change (a replay or a no-op update is not a version).
 */
function scd2NewVersionsSql({ plan, target, stage, versions, data, keys, deletes }: MergeParts): string {
  const tracked = plan.trackedColumns.map(quoteIdent);
  const on = (a: string, b: string) => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' and ');
  const stageCols = [...data, ...STAGE_EXTRA.map(([n]) => n)];
  const h = (alias: string) => `jsonb_build_array(${tracked.map((c) => `${alias}.${c}`).join(', ')})`;
  const keyList = keys.join(', ');
  const keysOf = (alias: string) => keys.map((k) => `${alias}.${k}`).join(', ');
  return `insert into pg_temp.${versions} (${stageCols.join(', ')})
with latest as (
  select distinct on (${keyList}, _valid_from) * from pg_temp.${stage}${deletes ? ' where not _deleted' : ''}
  order by ${keyList}, _valid_from, _seq desc
), cur as (
  select ${keysOf('c')}, c."valid_from", ${h('c')} as _h from ${target} c
  where c."is_current" and (${keysOf('c')}) in (select ${keyList} from pg_temp.${stage})
), newer as (
  select l.*, ${h('l')} as _h from latest l left join cur c on ${on('c', 'l')}
  where c."valid_from" is null or l._valid_from > c."valid_from"
), chain as (
  select n.*, coalesce(lag(n._h) over (partition by ${keysOf('n')} order by n._valid_from), c._h) as _prev_h
  from newer n left join cur c on ${on('c', 'n')}
)
select ${stageCols.join(', ')} from chain where _prev_h is distinct from _h`;
}

/** 2. Close the current version of every key that got a new one. */
function scd2CloseCurrentSql({ target, versions, keys }: MergeParts): string {
  const keyList = keys.join(', ');
  const on = keys.map((k) => `t.${k} = v.${k}`).join(' and ');
  const firstNew =
    `select distinct on (${keyList}) ${keyList}, _valid_from from pg_temp.${versions}` +
    ` order by ${keyList}, _valid_from`;
  return `update ${target} t set "valid_to" = v._valid_from, "is_current" = false, "_loaded_at" = now()
from (${firstNew}) v
where ${on} and t."is_current"`;
}

/** 3. Insert the new versions, each valid until the next one. */
function scd2InsertVersionsSql({ target, versions, data, keys }: MergeParts): string {
  const cols = [...data, '"valid_from"', '"valid_to"', '"is_current"', '"_topic"', '"_partition"', '"_offset"'];
  const values = [
    ...data,
    '_valid_from',
    `lead(_valid_from) over w`,
    `lead(_valid_from) over w is null`,
    '_topic',
    '_partition',
    '_offset',
  ];
  return `insert into ${target} (${cols.join(', ')})
select ${values.join(', ')}
from pg_temp.${versions}
window w as (partition by ${keys.join(', ')} order by _valid_from)
on conflict (${keys.join(', ')}, "valid_from") do nothing`;
}

/**
 * 4. (deletes) Close the current version at the key's last delete, when the delete is not older
 *    than it: the history stays, the key has no current version (a later record opens one).
 */
function scd2CloseDeletedSql({ target, stage, keys }: MergeParts): string {
  const keyList = keys.join(', ');
  const on = keys.map((k) => `t.${k} = d.${k}`).join(' and ');
  const lastDelete =
    `select distinct on (${keyList}) ${keyList}, _valid_from from pg_temp.${stage} where _deleted` +
    ` order by ${keyList}, _valid_from desc, _seq desc`;
  return `update ${target} t set "valid_to" = d._valid_from, "is_current" = false, "_loaded_at" = now()
from (${lastDelete}) d
where ${on} and t."is_current" and t."valid_from" <= d._valid_from`;
}
