import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeCopyText } from '../../../connectors/postgres/copyText.ts';
import {
  columnsOfAvroRecord,
  pgTypeOfAvro,
  tablePlanOf,
  type TablePlan,
} from '../../../connectors/postgres/warehouse/avroToPg.ts';
import { parseWarehouseSinkConfig } from '../../../connectors/postgres/warehouse/config.ts';
import { copyValue, isoOfMillis } from '../../../connectors/postgres/warehouse/copyValue.ts';
import {
  commentSql,
  createTableSql,
  evolveTableSql,
  type ExistingColumn,
} from '../../../connectors/postgres/warehouse/ddl.ts';
import { mergeSql } from '../../../connectors/postgres/warehouse/merge.ts';
import { copySql, stageTableSql } from '../../../connectors/postgres/warehouse/stage.ts';
import {
  dateKeyOf,
  dimDateSql,
  medallionTables,
  multiplyDecimal,
  toFactOrder,
  toFactOrderItem,
} from '../../../src/shop/warehouseModel.ts';
import { loadSchema } from '../../../src/domain/schemas.ts';
import { isSluiceError } from '../../../src/core/errors.ts';
import { item, order } from '../topologies/fixtures.ts';

const orders = () => loadSchema('silver.orders') as unknown as Record<string, unknown>;

/** Postgres's own reading of one COPY text line: split on tabs, `\N` is null, backslash escapes. */
function parseCopyLine(line: string): (string | null)[] {
  return line.split('\t').map((f) => {
    if (f === '\\N') return null;
    return f.replace(
      /\\(.)/g,
      (_, c: string) => (({ t: '\t', n: '\n', r: '\r', '\\': '\\' }) as Record<string, string>)[c] ?? c,
    );
  });
}

test('Avro types map to Postgres types; nullable unions become nullable columns', () => {
  const m = (t: unknown) => {
    const r = pgTypeOfAvro(t as never);
    return `${r.pgType}${r.nullable ? ' null' : ''}`;
  };
  assert.equal(m('long'), 'bigint');
  assert.equal(m('int'), 'integer');
  assert.equal(m('string'), 'text');
  assert.equal(m('boolean'), 'boolean');
  assert.equal(m('double'), 'double precision');
  assert.equal(m('float'), 'real');
  assert.equal(m('bytes'), 'bytea');
  assert.equal(m({ type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }), 'numeric(12,2)');
  assert.equal(
    m({ type: 'fixed', name: 'F', size: 8, logicalType: 'decimal', precision: 18, scale: 4 }),
    'numeric(18,4)',
  );
  assert.equal(
    m({ type: 'bytes', logicalType: 'decimal', scale: 2 }),
    'bytea',
    'a decimal without precision is its underlying type',
  );
  assert.equal(m({ type: 'long', logicalType: 'timestamp-millis' }), 'timestamptz');
  assert.equal(m({ type: 'long', logicalType: 'timestamp-micros' }), 'timestamptz');
  assert.equal(m({ type: 'int', logicalType: 'date' }), 'date');
  assert.equal(m({ type: 'string', logicalType: 'uuid' }), 'uuid');
  assert.equal(m({ type: 'enum', name: 'E', symbols: ['a', 'b'] }), 'text');
  assert.equal(m(['null', 'string']), 'text null');
  assert.equal(m(['null', { type: 'long', logicalType: 'timestamp-millis' }]), 'timestamptz null');
  assert.equal(m(['string', 'null']), 'text null');
  assert.equal(m(['null', 'string', 'long']), 'jsonb null');
  assert.equal(m({ type: 'array', items: 'string' }), 'jsonb');
  assert.equal(m({ type: 'map', values: 'long' }), 'jsonb');
  assert.equal(m({ type: 'record', name: 'R', fields: [] }), 'jsonb');
});

test('a named type used again by name maps like its definition', () => {
  const cols = columnsOfAvroRecord({
    type: 'record',
    name: 'X',
    namespace: 'ns',
    fields: [
      { name: 'a', type: { type: 'enum', name: 'Op', symbols: ['c'] } },
      { name: 'b', type: ['null', 'Op'] },
      { name: 'c', type: 'ns.Op' },
    ],
  });
  assert.deepEqual(
    cols.map((c) => [c.name, c.pgType, c.nullable]),
    [
      ['a', 'text', false],
      ['b', 'text', true],
      ['c', 'text', false],
    ],
  );
});

test('the silver.orders schema becomes typed, commented columns', () => {
  const cols = columnsOfAvroRecord(orders());
  assert.deepEqual(
    cols.map((c) => [c.name, c.pgType, c.nullable]),
    [
      ['order_id', 'bigint', false],
      ['customer_id', 'bigint', false],
      ['status', 'text', false],
      ['total_amount', 'numeric(12,2)', false],
      ['currency', 'text', false],
      ['ordered_at', 'timestamptz', false],
      ['updated_at', 'timestamptz', false],
      ['op', 'text', false],
      ['extracted_at', 'timestamptz', false],
    ],
  );
  assert.match(cols[0].comment!, /Primary key of the order/);
});

function plan(mode: 'append' | 'upsert' | 'scd2', extra: Record<string, unknown> = {}): TablePlan {
  const cfg = parseWarehouseSinkConfig({
    avroSchema: 'silver.orders',
    schema: 'silver',
    mode,
    ...(mode === 'append' ? {} : { keyColumns: ['order_id'] }),
    ...extra,
  });
  return tablePlanOf(cfg, orders());
}

test('create table DDL per mode: keys, lineage columns, SCD2 validity and current-row index', () => {
  const append = createTableSql(plan('append')).join('\n');
  assert.match(append, /create schema if not exists "silver"/);
  assert.match(append, /create table if not exists "silver"\."orders"/);
  assert.match(append, /"total_amount" numeric\(12,2\) not null/);
  assert.match(append, /"_offset" bigint not null/);
  assert.match(append, /primary key \("_topic", "_partition", "_offset"\)/);

  const upsert = createTableSql(plan('upsert', { orderingColumn: 'updated_at' })).join('\n');
  assert.match(upsert, /primary key \("order_id"\)/);
  assert.doesNotMatch(upsert, /"_key"/, 'Kafka key and timestamp only in bronze');

  const scd2 = createTableSql(
    plan('scd2', { orderingColumn: 'updated_at', trackedColumns: ['status'], surrogateKeyColumn: 'order_sk' }),
  ).join('\n');
  assert.match(scd2, /"order_sk" bigint generated by default as identity primary key/);
  assert.match(scd2, /"valid_from" timestamptz not null/);
  assert.match(scd2, /"valid_to" timestamptz,/);
  assert.match(scd2, /"is_current" boolean not null default true/);
  assert.match(scd2, /unique \("order_id", "valid_from"\)/);
  assert.match(
    scd2,
    /create unique index if not exists "orders_current" on "silver"\."orders" \("order_id"\) where "is_current"/,
  );
});

test('comments come from the Avro docs, and only differing ones are rewritten', () => {
  const p = plan('upsert');
  const all = commentSql(p);
  assert.ok(all.some((s) => /^comment on table "silver"\."orders" is 'Row image of the OLTP orders table/.test(s)));
  assert.ok(all.some((s) => s.startsWith('comment on column "silver"."orders"."status" is \'Lifecycle status.')));
  const existing: ExistingColumn[] = p.columns.map((c) => ({
    name: c.name,
    nullable: c.nullable,
    type: c.pgType,
    comment: c.comment,
  }));
  assert.ok(commentSql(p, existing, p.comment).every((s) => !/"(order_id|status)" is/.test(s)));
  // Quotes in docs are doubled, never breaking the statement.
  const q = tablePlanOf(
    parseWarehouseSinkConfig({
      avroSchema: { type: 'record', name: 'q', fields: [{ name: 'a', type: 'long', doc: "it's" }] },
    }),
    { type: 'record', name: 'q', fields: [{ name: 'a', type: 'long', doc: "it's" }] },
  );
  assert.ok(commentSql(q).includes(`comment on column "public"."q"."a" is 'it''s'`));
});

test('additive evolution: a new nullable field is added, a field that became optional drops NOT NULL, type changes only warn', () => {
  const p = plan('upsert');
  const existing: ExistingColumn[] = p.columns
    .filter((c) => c.name !== 'currency')
    .map((c) => ({
      name: c.name,
      nullable: false,
      type: c.pgType === 'timestamptz' ? 'timestamp with time zone' : c.pgType,
    }));
  existing.push(
    { name: '_topic', nullable: true, type: 'text' },
    { name: '_partition', nullable: true, type: 'integer' },
    { name: '_offset', nullable: true, type: 'bigint' },
    { name: '_loaded_at', nullable: false, type: 'timestamp with time zone' },
  );
  existing.push({ name: 'legacy_flag', nullable: false, type: 'boolean' });
  const evolved = tablePlanOf(
    parseWarehouseSinkConfig({
      avroSchema: 'silver.orders',
      schema: 'silver',
      mode: 'upsert',
      keyColumns: ['order_id'],
    }),
    {
      ...orders(),
      fields: [
        ...(orders().fields as object[]).map((f) =>
          (f as { name: string }).name === 'status' ? { ...f, type: ['null', 'string'] } : f,
        ),
        { name: 'channel', type: ['null', 'string'], default: null },
      ],
    },
  );
  const { statements, warnings } = evolveTableSql(
    evolved,
    existing.map((c) => (c.name === 'total_amount' ? { ...c, type: 'numeric(10,2)' } : c)),
  );
  assert.deepEqual(statements, [
    'alter table "silver"."orders" alter column "status" drop not null',
    'alter table "silver"."orders" add column if not exists "currency" text',
    'alter table "silver"."orders" add column if not exists "channel" text',
    'alter table "silver"."orders" alter column "legacy_flag" drop not null',
  ]);
  assert.ok(warnings.some((w) => /total_amount is numeric\(10,2\), the schema now says numeric\(12,2\)/.test(w)));
  assert.ok(warnings.some((w) => /legacy_flag is no longer in the schema/.test(w)));
  // An unchanged table needs nothing.
  const same: ExistingColumn[] = [
    ...p.columns.map((c) => ({
      name: c.name,
      nullable: c.nullable,
      type: c.pgType === 'timestamptz' ? 'timestamp with time zone' : c.pgType,
    })),
    ...existing.slice(-5, -1),
  ];
  assert.deepEqual(evolveTableSql(p, same), { statements: [], warnings: [] });
});

test('COPY text escaping: tabs, newlines, carriage returns, backslashes and NULL survive a round trip', () => {
  assert.equal(escapeCopyText('plain'), 'plain');
  assert.equal(escapeCopyText('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(escapeCopyText('\\N'), '\\\\N', 'the literal text \\N is not NULL');
  assert.equal(copyValue(null, 'text'), '\\N');
  assert.equal(copyValue(undefined, 'bigint'), '\\N');
  const values = ['a\tb', 'line1\nline2', 'c:\\path\\n', '\\N', 'x\r\n', '', 'tab at end\t', 'ünïcödé ✓'];
  const line = values
    .map((v) => copyValue(v, 'text'))
    .concat(copyValue(null, 'text'))
    .join('\t');
  assert.ok(!line.includes('\n') && line.split('\t').length === values.length + 1, 'one line, one field per value');
  assert.deepEqual(parseCopyLine(line), [...values, null]);
});

test('COPY values per type: booleans, decimals, timestamps, dates, bytea, jsonb', () => {
  assert.equal(copyValue(true, 'boolean'), 't');
  assert.equal(copyValue(false, 'boolean'), 'f');
  assert.equal(copyValue('12.30', 'numeric'), '12.30');
  assert.equal(copyValue(9007199254740991, 'bigint'), '9007199254740991');
  assert.equal(copyValue(Date.UTC(2026, 0, 2, 3, 4, 5, 6), 'timestamptz'), '2026-01-02T03:04:05.006Z');
  assert.equal(copyValue(1_767_323_045_006_007, 'timestamptz_micros'), '2026-01-02T03:04:05.006007Z');
  assert.equal(copyValue(20_000, 'date'), '2024-10-04');
  assert.equal(copyValue(Buffer.from([0, 0xff, 0x10]), 'bytea'), '\\\\x00ff10');
  assert.equal(copyValue({ a: 'x\ty', n: 1 }, 'jsonb'), '{"a":"x\\\\ty","n":1}');
  assert.deepEqual(parseCopyLine(copyValue({ a: 'x\ty' }, 'jsonb')), ['{"a":"x\\ty"}']);
  assert.equal(copyValue(Number.NaN, 'float'), 'NaN');
  assert.throws(() => copyValue(8.64e15 + 1, 'timestamptz'), /out of range/);
});

test('the fast timestamp formatter agrees with Date.toISOString, before 1970 and across days', () => {
  const samples = [
    0,
    -1,
    1,
    999,
    86_399_999,
    86_400_000,
    -86_400_001,
    Date.UTC(1969, 11, 31, 23, 59, 59, 999),
    Date.UTC(2026, 1, 28, 23, 59, 59, 999),
    Date.UTC(2028, 1, 29, 12),
    Date.UTC(1900, 0, 1),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor((Math.random() - 0.3) * 4e12));
  for (const ms of samples) assert.equal(isoOfMillis(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoOfMillis(Number.NaN), /out of range/);
});

test('config errors fail before any I/O and name the field', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return isSluiceError(e) ? `${e.shortCode}: ${e.message}` : String(e);
    }
    return 'ok';
  };
  assert.match(
    code(() => parseWarehouseSinkConfig({ avroSchema: 'silver.orders', mode: 'upsert' })),
    /CONFIG_INVALID: .*keyColumns: mode upsert needs keyColumns/,
  );
  assert.match(
    code(() => parseWarehouseSinkConfig({ avroSchema: 'silver.orders', schema: 'bad-name' })),
    /CONFIG_INVALID: .*schema: letters, digits/,
  );
  assert.match(
    code(() => parseWarehouseSinkConfig({ avroSchema: 'silver.orders', batchRecords: 0 })),
    /batchRecords/,
  );
  assert.match(
    code(() =>
      tablePlanOf(
        parseWarehouseSinkConfig({ avroSchema: 'silver.orders', mode: 'upsert', keyColumns: ['nope'] }),
        orders(),
      ),
    ),
    /key column nope is not a field/,
  );
  assert.match(
    code(() =>
      tablePlanOf(
        parseWarehouseSinkConfig({
          avroSchema: 'silver.orders',
          mode: 'upsert',
          keyColumns: ['order_id'],
          orderingColumn: 'later',
        }),
        orders(),
      ),
    ),
    /orderingColumn later must be a column/,
  );
  const defaults = parseWarehouseSinkConfig({ avroSchema: 'silver.orders' });
  assert.deepEqual(
    [defaults.mode, defaults.batchRecords, defaults.lingerMs, defaults.schema, defaults.table],
    ['append', 5000, 500, 'public', ''],
  );
});

test('merge SQL: append copies straight into the table, upsert keeps the newer version, SCD2 opens versions only on tracked changes', () => {
  // Append: no staging table and no merge; the COPY names the table and its lineage columns.
  assert.deepEqual(mergeSql(plan('append'), 'silver.orders'), []);
  assert.deepEqual(stageTableSql(plan('append'), 'silver.orders'), []);
  assert.match(
    copySql(plan('append'), 'silver.orders'),
    /^copy "silver"\."orders" \(.*"_topic", "_partition", "_offset", "_key", "_timestamp"\) from stdin$/,
  );
  assert.match(
    copySql(plan('upsert'), 'silver.orders'),
    /^copy pg_temp\.sluice_stage_[0-9a-f]{12} \(.*_seq\) from stdin$/,
  );
  const [upsert] = mergeSql(plan('upsert', { orderingColumn: 'updated_at' }), 'silver.orders');
  assert.match(upsert, /select distinct on \("order_id"\)/);
  assert.match(upsert, /order by "order_id", "updated_at" desc nulls last, _seq desc/);
  assert.match(upsert, /where t\."updated_at" is null or excluded\."updated_at" > t\."updated_at"/);
  const scd2 = mergeSql(
    plan('scd2', { orderingColumn: 'updated_at', trackedColumns: ['status', 'total_amount'] }),
    'gold.x',
  );
  assert.equal(scd2.length, 3);
  assert.match(scd2[0], /jsonb_build_array\(c\."status", c\."total_amount"\)/);
  assert.match(scd2[0], /where _prev_h is distinct from _h/);
  assert.match(scd2[1], /set "valid_to" = v\._valid_from, "is_current" = false/);
  assert.match(scd2[2], /lead\(_valid_from\) over w is null/);
});

test('medallion transforms: date keys, exact line amounts, durable keys; every table has a sink config', () => {
  assert.equal(dateKeyOf(Date.UTC(2026, 10, 1, 23, 59, 59)), 20261101);
  assert.equal(dateKeyOf(Date.UTC(2020, 0, 1)), 20200101);
  assert.equal(multiplyDecimal(3, '12.35'), '37.05');
  assert.equal(multiplyDecimal(7, '0.1'), '0.70');
  assert.equal(multiplyDecimal(1_000_000, '99999999.99'), '99999999990000.00');
  assert.equal(multiplyDecimal(2, '-0.05'), '-0.10');
  assert.throws(() => multiplyDecimal(1, '1.234'), /more than 2 fractional digits/);
  const f = toFactOrder(order(7, 42, { ordered_at: Date.UTC(2026, 1, 3, 10) }));
  assert.deepEqual([f.order_id, f.customer_key, f.date_key], [7, 42, 20260203]);
  const i = toFactOrderItem(item(1, 7, 9, { quantity: 3, unit_price: '19.99' }));
  assert.deepEqual([i.product_key, i.line_amount], [9, '59.97']);
  const tables = medallionTables({ schemaPrefix: 'it_x' });
  assert.equal(tables.length, 12);
  for (const t of tables) parseWarehouseSinkConfig(t.sink);
  assert.deepEqual(
    tables.filter((t) => t.layer === 'gold').map((t) => `${t.sink.schema}.${t.sink.table}:${t.sink.mode}`),
    [
      'it_x_gold.dim_customers:scd2',
      'it_x_gold.dim_products:upsert',
      'it_x_gold.fact_orders:upsert',
      'it_x_gold.fact_order_items:upsert',
    ],
  );
  const dimDate = dimDateSql('gold').join('\n');
  assert.match(dimDate, /generate_series\(date '2020-01-01', date '2030-12-31'/);
  assert.match(dimDate, /on conflict \(date_key\) do nothing/);
});
