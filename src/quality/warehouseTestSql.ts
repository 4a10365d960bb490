import { quoteIdent } from '../../connectors/postgres/warehouse/sqlQuote.ts';
import { layerSchemas } from '../shop/warehouseModel.ts';
import type { TableRef, WarehouseTest } from '../shop/warehouseTests.ts';

/**
 * The one read-only query of each warehouse test (pure: text and parameters, no I/O). Names are
 * quoted with `quoteIdent`; every value (accepted values, filters, ages, the example limit) is a
 * parameter, so nothing from the declarations or the data is spliced into the SQL text.
 *
 * Row kinds (unique, not_null, relationships, accepted_values) select the failing rows as `v` (the
 * value that names each: the key, the orphan, the unknown value) and answer one row:
 * `failing_rows` (bigint) and `examples` (up to 5 distinct `v` as text, in order). Freshness answers
 * `latest`, `age_seconds` and `status` (pass, warn or fail against the two ages).
 */

/** How many example keys a failing test reports. */
export const EXAMPLE_LIMIT = 5;

export interface TestQuery {
  text: string;
  values: unknown[];
}

/** `"schema"."table"` of a table of a layer, under the schema prefix. */
export function relationOf(t: TableRef, schemaPrefix = ''): string {
  return `${quoteIdent(layerSchemas(schemaPrefix)[t.layer])}.${quoteIdent(t.table)}`;
}

/** Collects parameters: `param(v)` is `$n` for the n-th value. */
function parameters(): { values: unknown[]; param(v: unknown, cast?: string): string } {
  const values: unknown[] = [];
  return {
    values,
    param(v, cast) {
      values.push(v);
      return `$${values.length}${cast ? `::${cast}` : ''}`;
    },
  };
}

/**
 * The query of one test.
 *
 * @example warehouseTestSql({ kind: 'not_null', layer: 'gold', table: 'fact_orders', column: 'order_id' }, 'it_x')
 */
export function warehouseTestSql(t: WarehouseTest, schemaPrefix = ''): TestQuery {
  const p = parameters();
  const table = relationOf(t, schemaPrefix);
  const col = quoteIdent(t.column);
  if (t.kind === 'freshness') {
    const warn = p.param(t.warnAfterMs / 1000, 'float8');
    const error = p.param(t.errorAfterMs / 1000, 'float8');
    const text =
      `select max(${col}) as latest, extract(epoch from now() - max(${col}))::float8 as age_seconds,\n` +
      `  case when max(${col}) is null then 'fail'\n` +
      `       when max(${col}) < now() - make_interval(secs => ${error}) then 'fail'\n` +
      `       when max(${col}) < now() - make_interval(secs => ${warn}) then 'warn'\n` +
      `       else 'pass' end as status\n` +
      `  from ${table}`;
    return { text, values: p.values };
  }
  let failing: string;
  switch (t.kind) {
    case 'unique': {
      const where = t.where ? ` and ${quoteIdent(t.where.column)} = ${p.param(t.where.equals)}` : '';
      failing =
        `select v from (select ${col} as v, count(*) over (partition by ${col}) as n\n` +
        `    from ${table} where ${col} is not null${where}) c where n > 1`;
      break;
    }
    case 'not_null':
      failing = `select ${t.rowKey ? quoteIdent(t.rowKey) : 'null::text'} as v from ${table} where ${col} is null`;
      break;
    case 'relationships':
      failing =
        `select c.${col} as v from ${table} c\n` +
        `   where c.${col} is not null\n` +
        `     and not exists (select 1 from ${relationOf(t.to, schemaPrefix)} r where r.${quoteIdent(t.to.column)} = c.${col})`;
      break;
    case 'accepted_values':
      failing =
        `select ${col} as v from ${table}\n` +
        `   where ${col} is not null and not (${col}::text = any(${p.param([...t.values], 'text[]')}))`;
      break;
  }
  const limit = p.param(EXAMPLE_LIMIT, 'int');
  const text =
    `with failing as (\n  ${failing}\n)\n` +
    'select count(*)::bigint as failing_rows,\n' +
    '       array(select v::text from (select distinct v from failing where v is not null) d' +
    ` order by v limit ${limit}) as examples\n` +
    '  from failing';
  return { text, values: p.values };
}
