import type { TablePlan } from './avroToPg.ts';
import { qualifiedName, quoteIdent } from './sqlQuote.ts';
import { STAGE_EXTRA, stageNames } from './stage.ts';

/**
 * The statements that merge a staged batch into its table, one set per mode: append ignores
 * rows it already has (replays), upsert keeps the newer version of each key, SCD2 closes the
 * current version and opens new ones only where a tracked column changes.
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
}

/**
 * The statements that merge the staged batch into the target, per mode (run in order, in the
 * flush transaction, after COPY).
 *
 * @example for (const sql of mergeSql(plan, 'silver.orders')) await client.query(sql);
 */
export function mergeSql(plan: TablePlan, sink: string): string[] {
  const { stage, versions } = stageNames(sink);
  const parts: MergeParts = {
    plan,
    stage,
    versions,
    target: qualifiedName(plan),
    data: plan.columns.map((c) => quoteIdent(c.name)),
    keys: plan.keyColumns.map(quoteIdent),
  };
  switch (plan.mode) {
    case 'append':
      return []; // copied straight into the table (see copySql)
    case 'upsert':
      return [upsertSql(parts)];
    case 'scd2':
      return scd2Sql(parts);
  }
}

function upsertSql({ plan, target, stage, data, keys }: MergeParts): string {
  const cols = [...data, '"_topic"', '"_partition"', '"_offset"'];
  const nonKey = [
    ...plan.columns.filter((c) => !plan.keyColumns.includes(c.name)).map((c) => quoteIdent(c.name)),
    '"_topic"',
    '"_partition"',
    '"_offset"',
  ];
  const ord = plan.orderingColumn ? quoteIdent(plan.orderingColumn) : '';
  // Same partition: the greater offset is the newer record. Across partitions offsets say
  // nothing, so the later write wins.
  const byOffset =
    '(excluded."_topic" is distinct from t."_topic" or excluded."_partition" is distinct from t."_partition"' +
    ' or excluded."_offset" >= t."_offset")';
  const newer = ord
    ? `t.${ord} is null or excluded.${ord} > t.${ord} or (excluded.${ord} = t.${ord} and ${byOffset})`
    : byOffset;
  const values = [...data, '_topic', '_partition', '_offset'];
  const set = [...nonKey.map((c) => `${c} = excluded.${c}`), '"_loaded_at" = now()'];
  return `insert into ${target} as t (${cols.join(', ')})
select distinct on (${keys.join(', ')}) ${values.join(', ')} from pg_temp.${stage}
order by ${keys.join(', ')}${ord ? `, ${ord} desc nulls last` : ''}, _seq desc
on conflict (${keys.join(', ')}) do update set ${set.join(', ')}
where ${newer}`;
}

function scd2Sql(parts: MergeParts): string[] {
  return [scd2NewVersionsSql(parts), scd2CloseCurrentSql(parts), scd2InsertVersionsSql(parts)];
}

/**
 * 1. The new versions: per key and instant the last record; only records newer than the current
 *    version; only where the tracked attributes change (a replay or a no-op update is not a version).
 */
function scd2NewVersionsSql({ plan, target, stage, versions, data, keys }: MergeParts): string {
  const tracked = plan.trackedColumns.map(quoteIdent);
  const on = (a: string, b: string) => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' and ');
  const stageCols = [...data, ...STAGE_EXTRA.map(([n]) => n)];
  const h = (alias: string) => `jsonb_build_array(${tracked.map((c) => `${alias}.${c}`).join(', ')})`;
  const keyList = keys.join(', ');
  const keysOf = (alias: string) => keys.map((k) => `${alias}.${k}`).join(', ');
  return `insert into pg_temp.${versions} (${stageCols.join(', ')})
with latest as (
  select distinct on (${keyList}, _valid_from) * from pg_temp.${stage}
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
