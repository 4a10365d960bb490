import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig, pgConnection } from '../../src/config/config.ts';
import { SluiceError, isSluiceError } from '../../src/core/errors.ts';
import { createLogger } from '../../src/core/log.ts';
import { withRetry } from '../../src/core/retry.ts';
import { loadSchema } from '../../src/domain/schemas.ts';
import type {
  Ack,
  Output,
  SinkConnector,
  SinkContext,
  SinkFactory,
  SinkRecordError,
  SourceRecord,
} from '../../src/topology/types.ts';
import {
  parseWarehouseSinkConfig,
  type WarehouseSinkConfig,
  type WarehouseSinkOptions,
} from './sink_warehouse.config.ts';

/**
 * Postgres warehouse sink: exactly-once effect without XA.
 *
 * Each flush is one transaction: COPY the batch into a session temp table (text format, large
 * chunks), merge it into the target (append / upsert / SCD type 2), and advance the consumed
 * offsets in `sluice.sluice_warehouse_offsets` — all or nothing. The runner seeks each assigned
 * partition to `storedOffsets()`, and every flush also drops records below the stored offset
 * (they were committed before a crash or by a previous owner of the partition), so a crash
 * between COPY and COMMIT neither loses nor doubles a row. Acks are released only after COMMIT.
 *
 * Sinks with the same `transactionGroup` in one runner (the medallion's tables) share the
 * transaction: all their tables and offsets commit together, so no table of the group is ever
 * ahead of another — the runner seeks each partition once, whichever sink it asks.
 *
 * Tables are created from the Avro schema and evolved additively (new field → new nullable
 * column; a field that became optional drops NOT NULL). Field docs become column comments.
 *
 * @example
 *   outputs: [{ topic: 'warehouse.silver.orders', schema: 'silver.orders',
 *     sink: warehouseSink({ avroSchema: 'silver.orders', schema: 'silver', table: 'orders',
 *                           mode: 'upsert', keyColumns: ['order_id'], orderingColumn: 'updated_at' }) }]
 */

const log = createLogger('sink-warehouse');

export const OFFSETS_SCHEMA = 'sluice';
export const OFFSETS_TABLE = 'sluice_warehouse_offsets';
const OFFSETS = `${quoteIdent(OFFSETS_SCHEMA)}.${quoteIdent(OFFSETS_TABLE)}`;
/** Serialises DDL of every warehouse sink (several connectors and processes start at once). */
const DDL_LOCK_KEY = 'sluice.warehouse.ddl';

// ---------------------------------------------------------------------------------------------
// Avro → table model

/** How a JavaScript value of a column is written into COPY text. */
export type ValueKind =
  | 'integer'
  | 'bigint'
  | 'boolean'
  | 'numeric'
  | 'float'
  | 'text'
  | 'uuid'
  | 'jsonb'
  | 'bytea'
  | 'timestamptz'
  | 'timestamptz_micros'
  | 'timestamp'
  | 'date';

export interface ColumnDef {
  name: string;
  /** SQL type as written in DDL, e.g. `numeric(12,2)`, `timestamptz`. */
  pgType: string;
  kind: ValueKind;
  nullable: boolean;
  comment?: string;
}

export interface TablePlan {
  schema: string;
  table: string;
  mode: WarehouseSinkConfig['mode'];
  /** Data columns, from the Avro fields, in field order. */
  columns: ColumnDef[];
  keyColumns: string[];
  /** upsert: the column that orders versions (empty: the source offset). */
  orderingColumn: string;
  /** scd2 only. */
  trackedColumns: string[];
  surrogateKey: string;
  comment?: string;
}

type AvroJson = string | AvroJson[] | { [k: string]: unknown };

interface Mapped {
  pgType: string;
  kind: ValueKind;
  nullable: boolean;
}

const PRIMITIVES: Record<string, Mapped> = {
  null: { pgType: 'text', kind: 'text', nullable: true },
  boolean: { pgType: 'boolean', kind: 'boolean', nullable: false },
  int: { pgType: 'integer', kind: 'integer', nullable: false },
  long: { pgType: 'bigint', kind: 'bigint', nullable: false },
  float: { pgType: 'real', kind: 'float', nullable: false },
  double: { pgType: 'double precision', kind: 'float', nullable: false },
  bytes: { pgType: 'bytea', kind: 'bytea', nullable: false },
  string: { pgType: 'text', kind: 'text', nullable: false },
};

const JSONB: Mapped = { pgType: 'jsonb', kind: 'jsonb', nullable: false };

/**
 * The Postgres column type of an Avro type: long→bigint, int→integer, string→text,
 * boolean→boolean, decimal(p,s)→numeric(p,s), timestamp-millis/micros→timestamptz, date→date,
 * enum→text, bytes/fixed→bytea, ["null", T]→T nullable, records/arrays/maps/other unions→jsonb.
 */
export function pgTypeOfAvro(type: AvroJson, named: Map<string, AvroJson> = new Map(), namespace = ''): Mapped {
  if (typeof type === 'string') {
    if (PRIMITIVES[type]) return { ...PRIMITIVES[type] };
    const ref = named.get(type) ?? named.get(namespace ? `${namespace}.${type}` : type);
    if (ref === undefined) return { ...JSONB }; // an unknown name: keep the value, as JSON
    return pgTypeOfAvro(ref, named, namespace);
  }
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    const nullable = nonNull.length < type.length;
    // Record the names defined inside the union members, even those we end up storing as jsonb.
    for (const t of nonNull) if (t && typeof t === 'object' && !Array.isArray(t)) registerNamed(t, named, namespace);
    if (nonNull.length === 1) {
      const inner = pgTypeOfAvro(nonNull[0], named, namespace);
      return { ...inner, nullable: nullable || inner.nullable };
    }
    return { ...JSONB, nullable };
  }
  const t = type as Record<string, unknown>;
  const ns = typeof t.namespace === 'string' ? t.namespace : namespace;
  registerNamed(t, named, namespace);
  const base = t.type as AvroJson;
  const logical = t.logicalType;
  switch (base) {
    case 'record':
    case 'error':
    case 'array':
    case 'map':
      if (base === 'record' || base === 'error')
        for (const f of (t.fields as { type: AvroJson }[]) ?? []) pgTypeOfAvro(f.type, named, ns);
      return { ...JSONB };
    case 'enum':
      return { pgType: 'text', kind: 'text', nullable: false };
    case 'fixed':
    case 'bytes': {
      const p = t.precision,
        s = t.scale ?? 0;
      if (
        logical === 'decimal' &&
        Number.isInteger(p) &&
        (p as number) > 0 &&
        Number.isInteger(s) &&
        (s as number) >= 0 &&
        (s as number) <= (p as number)
      ) {
        return { pgType: `numeric(${p},${s})`, kind: 'numeric', nullable: false };
      }
      return { pgType: 'bytea', kind: 'bytea', nullable: false };
    }
    case 'int':
      if (logical === 'date') return { pgType: 'date', kind: 'date', nullable: false };
      return { ...PRIMITIVES.int };
    case 'long':
      if (logical === 'timestamp-millis') return { pgType: 'timestamptz', kind: 'timestamptz', nullable: false };
      if (logical === 'timestamp-micros') return { pgType: 'timestamptz', kind: 'timestamptz_micros', nullable: false };
      if (logical === 'local-timestamp-millis') return { pgType: 'timestamp', kind: 'timestamp', nullable: false };
      return { ...PRIMITIVES.long };
    case 'string':
      if (logical === 'uuid') return { pgType: 'uuid', kind: 'uuid', nullable: false };
      return { ...PRIMITIVES.string };
    default:
      return pgTypeOfAvro(base, named, ns);
  }
}

function registerNamed(t: Record<string, unknown>, named: Map<string, AvroJson>, namespace: string): void {
  if (typeof t.name !== 'string' || !['record', 'error', 'enum', 'fixed'].includes(t.type as string)) return;
  const ns = typeof t.namespace === 'string' ? t.namespace : namespace;
  const full = t.name.includes('.') || !ns ? t.name : `${ns}.${t.name}`;
  named.set(full, t as AvroJson);
  named.set(t.name.slice(t.name.lastIndexOf('.') + 1), t as AvroJson);
}

/** The data columns of an Avro record schema (one per field, docs as comments). */
export function columnsOfAvroRecord(schema: { [k: string]: unknown }): ColumnDef[] {
  if (schema.type !== 'record' || !Array.isArray(schema.fields)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `warehouse tables are created from an Avro record schema, not ${JSON.stringify(schema.type)}`,
    );
  }
  const named = new Map<string, AvroJson>();
  const ns = typeof schema.namespace === 'string' ? schema.namespace : '';
  registerNamed(schema, named, '');
  return (schema.fields as { name: string; type: AvroJson; doc?: string }[]).map((f) => {
    const m = pgTypeOfAvro(f.type, named, ns);
    return { name: f.name, pgType: m.pgType, kind: m.kind, nullable: m.nullable, comment: f.doc };
  });
}

/** Resolves the config against the Avro schema: the table the sink owns. Throws CONFIG_INVALID. */
export function tablePlanOf(cfg: WarehouseSinkConfig, schema: { [k: string]: unknown }): TablePlan {
  const columns = columnsOfAvroRecord(schema);
  const names = new Set(columns.map((c) => c.name));
  const table = cfg.table || defaultTableName(cfg.avroSchema);
  const where = `warehouse sink ${cfg.schema}.${table}`;
  const reserved = new Set([
    ...SYSTEM_COLUMN_NAMES,
    ...(cfg.mode === 'scd2' ? ['valid_from', 'valid_to', 'is_current', cfg.surrogateKeyColumn || `${table}_sk`] : []),
  ]);
  for (const c of columns) {
    if (reserved.has(c.name))
      throw new SluiceError(
        'CONFIG_INVALID',
        `${where}: field ${c.name} collides with a column the sink adds; rename it`,
      );
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(c.name))
      throw new SluiceError(
        'CONFIG_INVALID',
        `${where}: field name ${JSON.stringify(c.name)} is not a plain identifier`,
      );
  }
  for (const k of cfg.keyColumns)
    if (!names.has(k))
      throw new SluiceError(
        'CONFIG_INVALID',
        `${where}: key column ${k} is not a field of the schema (fields: ${[...names].join(', ')})`,
      );
  for (const k of cfg.trackedColumns)
    if (!names.has(k))
      throw new SluiceError('CONFIG_INVALID', `${where}: tracked column ${k} is not a field of the schema`);
  if (cfg.mode === 'upsert' && cfg.orderingColumn && !names.has(cfg.orderingColumn)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `${where}: orderingColumn ${cfg.orderingColumn} must be a column in upsert mode`,
    );
  }
  const keySet = new Set(cfg.keyColumns);
  return {
    schema: cfg.schema,
    table,
    mode: cfg.mode,
    // Keys are never null: they are the primary (or natural) key.
    columns: columns.map((c) => (keySet.has(c.name) ? { ...c, nullable: false } : c)),
    keyColumns: cfg.keyColumns,
    orderingColumn: cfg.orderingColumn,
    trackedColumns:
      cfg.mode === 'scd2'
        ? cfg.trackedColumns.length
          ? cfg.trackedColumns
          : columns.map((c) => c.name).filter((n) => !keySet.has(n))
        : [],
    surrogateKey: cfg.mode === 'scd2' ? cfg.surrogateKeyColumn || `${table}_sk` : '',
    comment: cfg.tableComment || (typeof schema.doc === 'string' ? schema.doc : undefined),
  };
}

function defaultTableName(avroSchema: WarehouseSinkConfig['avroSchema']): string {
  if (typeof avroSchema === 'string') return avroSchema.slice(avroSchema.lastIndexOf('.') + 1);
  const name = avroSchema.name.slice(avroSchema.name.lastIndexOf('.') + 1);
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// DDL

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function qualified(plan: { schema: string; table: string }): string {
  return `${quoteIdent(plan.schema)}.${quoteIdent(plan.table)}`;
}

interface SystemColumn {
  name: string;
  ddl: string;
  comment: string;
  modes: TablePlan['mode'][];
}

/** Columns the sink adds: lineage to the Kafka record, load time, and SCD2 validity. */
function systemColumns(plan: TablePlan): SystemColumn[] {
  const append = plan.mode === 'append';
  const all: SystemColumn[] = [
    {
      name: 'valid_from',
      ddl: 'timestamptz not null',
      comment: 'Start of validity of this version (inclusive): the source change time.',
      modes: ['scd2'],
    },
    {
      name: 'valid_to',
      ddl: 'timestamptz',
      comment: 'End of validity of this version (exclusive); null while it is the current version.',
      modes: ['scd2'],
    },
    {
      name: 'is_current',
      ddl: 'boolean not null default true',
      comment: 'True for the one current version of the natural key.',
      modes: ['scd2'],
    },
    {
      name: '_topic',
      ddl: append ? 'text not null' : 'text',
      comment: 'Lineage: Kafka topic of the source record.',
      modes: ['append', 'upsert', 'scd2'],
    },
    {
      name: '_partition',
      ddl: append ? 'integer not null' : 'integer',
      comment: 'Lineage: Kafka partition of the source record.',
      modes: ['append', 'upsert', 'scd2'],
    },
    {
      name: '_offset',
      ddl: append ? 'bigint not null' : 'bigint',
      comment: 'Lineage: Kafka offset of the source record.',
      modes: ['append', 'upsert', 'scd2'],
    },
    { name: '_key', ddl: 'text', comment: 'Kafka record key as text.', modes: ['append'] },
    { name: '_timestamp', ddl: 'timestamptz', comment: 'Kafka record timestamp.', modes: ['append'] },
    {
      name: '_loaded_at',
      ddl: 'timestamptz not null default now()',
      comment: 'When the warehouse transaction that wrote this row started.',
      modes: ['append', 'upsert', 'scd2'],
    },
  ];
  return all.filter((c) => c.modes.includes(plan.mode));
}

const SYSTEM_COLUMN_NAMES = [
  '_topic',
  '_partition',
  '_offset',
  '_key',
  '_timestamp',
  '_loaded_at',
  '_seq',
  '_valid_from',
  '_h',
  '_prev_h',
];

function columnDdl(c: ColumnDef): string {
  return `${quoteIdent(c.name)} ${c.pgType}${c.nullable ? '' : ' not null'}`;
}

/** `create schema/table if not exists` for a new table, with its keys and indexes. */
export function createTableSql(plan: TablePlan): string[] {
  const cols: string[] = [];
  if (plan.mode === 'scd2')
    cols.push(`${quoteIdent(plan.surrogateKey)} bigint generated by default as identity primary key`);
  for (const c of plan.columns) cols.push(columnDdl(c));
  for (const s of systemColumns(plan)) cols.push(`${quoteIdent(s.name)} ${s.ddl}`);
  const keys = plan.keyColumns.map(quoteIdent).join(', ');
  if (plan.mode === 'append') cols.push('primary key ("_topic", "_partition", "_offset")');
  if (plan.mode === 'upsert') cols.push(`primary key (${keys})`);
  if (plan.mode === 'scd2') cols.push(`unique (${keys}, "valid_from")`);
  const sql = [
    `create schema if not exists ${quoteIdent(plan.schema)}`,
    `create table if not exists ${qualified(plan)} (\n  ${cols.join(',\n  ')}\n)`,
  ];
  if (plan.mode === 'scd2') {
    sql.push(
      `create unique index if not exists ${quoteIdent(`${plan.table}_current`)} on ${qualified(plan)} (${keys}) where "is_current"`,
    );
  }
  return sql;
}

export interface ExistingColumn {
  name: string;
  nullable: boolean;
  /** `format_type` of the column, e.g. `numeric(12,2)`, `timestamp with time zone`. */
  type: string;
  comment?: string | null;
}

const TYPE_ALIASES: Record<string, string> = {
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
};

/**
 * Additive evolution of an existing table: new fields become nullable columns
 * (`add column if not exists`), a field that became optional drops NOT NULL. Type changes and
 * removed fields are reported, never applied (that would rewrite or lose data).
 */
export function evolveTableSql(
  plan: TablePlan,
  existing: ExistingColumn[],
): { statements: string[]; warnings: string[] } {
  const have = new Map(existing.map((c) => [c.name, c]));
  const statements: string[] = [];
  const warnings: string[] = [];
  const keys = new Set(plan.keyColumns);
  for (const c of plan.columns) {
    const e = have.get(c.name);
    if (!e) {
      statements.push(`alter table ${qualified(plan)} add column if not exists ${quoteIdent(c.name)} ${c.pgType}`);
      continue;
    }
    const wanted = TYPE_ALIASES[c.pgType] ?? c.pgType;
    if (e.type !== wanted) warnings.push(`column ${c.name} is ${e.type}, the schema now says ${wanted}; left as it is`);
    if (c.nullable && !e.nullable && !keys.has(c.name))
      statements.push(`alter table ${qualified(plan)} alter column ${quoteIdent(c.name)} drop not null`);
  }
  for (const s of systemColumns(plan)) {
    if (!have.has(s.name))
      statements.push(
        `alter table ${qualified(plan)} add column if not exists ${quoteIdent(s.name)} ${s.ddl.replace(' not null', '')}`,
      );
  }
  const known = new Set([
    ...plan.columns.map((c) => c.name),
    ...systemColumns(plan).map((s) => s.name),
    plan.surrogateKey,
  ]);
  for (const e of existing) {
    if (known.has(e.name)) continue;
    warnings.push(`column ${e.name} is no longer in the schema; kept`);
    // Rows written from now on have no value for it.
    if (!e.nullable) statements.push(`alter table ${qualified(plan)} alter column ${quoteIdent(e.name)} drop not null`);
  }
  return { statements, warnings };
}

/** `comment on` statements for the table and every column whose comment differs from `existing`. */
export function commentSql(
  plan: TablePlan,
  existing: ExistingColumn[] = [],
  existingTableComment?: string | null,
): string[] {
  const have = new Map(existing.map((c) => [c.name, c.comment ?? null]));
  const out: string[] = [];
  if (plan.comment && plan.comment !== existingTableComment)
    out.push(`comment on table ${qualified(plan)} is ${sqlLiteral(plan.comment)}`);
  const wanted: [string, string | undefined][] = [
    ...(plan.mode === 'scd2'
      ? [[plan.surrogateKey, 'Surrogate key of this version of the row (identity).'] as [string, string]]
      : []),
    ...plan.columns.map((c) => [c.name, c.comment] as [string, string | undefined]),
    ...systemColumns(plan).map((s) => [s.name, s.comment] as [string, string]),
  ];
  for (const [name, comment] of wanted) {
    if (comment && have.get(name) !== comment)
      out.push(`comment on column ${qualified(plan)}.${quoteIdent(name)} is ${sqlLiteral(comment)}`);
  }
  return out;
}

export function offsetsTableSql(): string[] {
  return [
    `create schema if not exists ${quoteIdent(OFFSETS_SCHEMA)}`,
    `create table if not exists ${OFFSETS} (
  sink text not null,
  topic text not null,
  partition integer not null,
  next_offset bigint not null,
  updated_at timestamptz not null default now(),
  primary key (sink, topic, partition)
)`,
    `comment on table ${OFFSETS} is 'Kafka offsets consumed by each warehouse sink, written in the same transaction as the rows: the runner resumes each partition from next_offset (exactly-once effect without XA).'`,
    `comment on column ${OFFSETS}.next_offset is 'The next offset to consume: every record below it is committed in the sink''s table.'`,
  ];
}

// ---------------------------------------------------------------------------------------------
// COPY text format

const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_G = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Escapes a string for COPY text format: backslash, tab, newline and carriage return. */
export function escapeCopyText(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_G, (c) => COPY_ESCAPES[c]) : s;
}

export const COPY_NULL = '\\N';

function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (
    v &&
    typeof v === 'object' &&
    (v as { type?: string }).type === 'Buffer' &&
    Array.isArray((v as { data?: unknown }).data)
  ) {
    return Buffer.from((v as { data: number[] }).data).toString('base64');
  }
  return v;
}

const DAY_MS = 86_400_000;
const dayPrefixes = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, about ten times faster: the date part is cached per day, the time
 * of day is plain arithmetic. Formatting dominated the sink's CPU time before (four timestamps a row).
 */
export function isoOfMillis(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new RangeError(`timestamp out of range: ${ms}`);
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    if (dayPrefixes.size >= 4096) dayPrefixes.clear();
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  return `${prefix}${pad2(h)}:${pad2(m)}:${pad2(sec)}.${pad3(Math.floor(rest - sec * 1000))}Z`;
}

/** One value in COPY text format (already escaped), `\N` for null. */
export function copyValue(v: unknown, kind: ValueKind): string {
  if (v === null || v === undefined) return COPY_NULL;
  switch (kind) {
    case 'integer':
    case 'bigint':
    case 'numeric':
    case 'float':
      return String(v);
    case 'boolean':
      return v ? 't' : 'f';
    case 'timestamptz':
      return typeof v === 'number' ? isoOfMillis(v) : escapeCopyText(v instanceof Date ? v.toISOString() : String(v));
    case 'timestamptz_micros': {
      if (typeof v !== 'number' && typeof v !== 'bigint') return escapeCopyText(String(v));
      const us = BigInt(v);
      const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
      const rest = ((us % 1000n) + 1000n) % 1000n;
      return isoOfMillis(Number(ms)).replace('Z', `${String(rest).padStart(3, '0')}Z`);
    }
    case 'timestamp':
      return typeof v === 'number' ? isoOfMillis(v).replace('Z', '') : escapeCopyText(String(v));
    case 'date':
      return typeof v === 'number' ? isoOfMillis(v * 86_400_000).slice(0, 10) : escapeCopyText(String(v));
    case 'bytea':
      // `\x…` hex input; the backslash itself is escaped for the COPY text layer.
      return Buffer.isBuffer(v) ? `\\\\x${v.toString('hex')}` : escapeCopyText(String(v));
    case 'jsonb':
      return escapeCopyText(JSON.stringify(v, jsonReplacer));
    case 'text':
    case 'uuid':
      return escapeCopyText(typeof v === 'string' ? v : String(v));
  }
}

// ---------------------------------------------------------------------------------------------
// Staging and merge SQL

/** Staging columns after the data columns: lineage, ordering and the arrival order in the batch. */
const STAGE_EXTRA = [
  ['_topic', 'text'],
  ['_partition', 'integer'],
  ['_offset', 'bigint'],
  ['_key', 'text'],
  ['_timestamp', 'timestamptz'],
  ['_valid_from', 'timestamptz'],
  ['_seq', 'integer'],
] as const;

export function stageNames(sink: string): { stage: string; versions: string } {
  const h = createHash('sha1').update(sink).digest('hex').slice(0, 12);
  return { stage: `sluice_stage_${h}`, versions: `sluice_versions_${h}` };
}

/** Session temp tables (rows vanish at commit or rollback), created once per connection. */
export function stageTableSql(plan: TablePlan, sink: string): string[] {
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

export function copySql(plan: TablePlan, sink: string): string {
  const cols = [...plan.columns.map((c) => quoteIdent(c.name)), ...STAGE_EXTRA.map(([n]) => n)];
  return `copy pg_temp.${stageNames(sink).stage} (${cols.join(', ')}) from stdin`;
}

/** The statements that merge the staged batch into the target, per mode. */
export function mergeSql(plan: TablePlan, sink: string): string[] {
  const { stage, versions } = stageNames(sink);
  const target = qualified(plan);
  const data = plan.columns.map((c) => quoteIdent(c.name));
  const keys = plan.keyColumns.map(quoteIdent);
  switch (plan.mode) {
    case 'append': {
      const cols = [...data, '"_topic"', '"_partition"', '"_offset"', '"_key"', '"_timestamp"'];
      return [
        `insert into ${target} (${cols.join(', ')})
select ${[...data, '_topic', '_partition', '_offset', '_key', '_timestamp'].join(', ')} from pg_temp.${stage}
on conflict ("_topic", "_partition", "_offset") do nothing`,
      ];
    }
    case 'upsert': {
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
        '(excluded."_topic" is distinct from t."_topic" or excluded."_partition" is distinct from t."_partition" or excluded."_offset" >= t."_offset")';
      const newer = ord
        ? `t.${ord} is null or excluded.${ord} > t.${ord} or (excluded.${ord} = t.${ord} and ${byOffset})`
        : byOffset;
      return [
        `insert into ${target} as t (${cols.join(', ')})
select distinct on (${keys.join(', ')}) ${[...data, '_topic', '_partition', '_offset'].join(', ')} from pg_temp.${stage}
order by ${keys.join(', ')}${ord ? `, ${ord} desc nulls last` : ''}, _seq desc
on conflict (${keys.join(', ')}) do update set ${[...nonKey.map((c) => `${c} = excluded.${c}`), '"_loaded_at" = now()'].join(', ')}
where ${newer}`,
      ];
    }
    case 'scd2': {
      const tracked = plan.trackedColumns.map(quoteIdent);
      const on = (a: string, b: string) => keys.map((k) => `${a}.${k} = ${b}.${k}`).join(' and ');
      const stageCols = [...data, ...STAGE_EXTRA.map(([n]) => n)];
      const h = (alias: string) => `jsonb_build_array(${tracked.map((c) => `${alias}.${c}`).join(', ')})`;
      return [
        // 1. The new versions: per key and instant the last record; only records newer than the
        //    current version; only where the tracked attributes change (a replay or a no-op update
        //    is not a version).
        `insert into pg_temp.${versions} (${stageCols.join(', ')})
with latest as (
  select distinct on (${keys.join(', ')}, _valid_from) * from pg_temp.${stage}
  order by ${keys.join(', ')}, _valid_from, _seq desc
), cur as (
  select ${keys.map((k) => `c.${k}`).join(', ')}, c."valid_from", ${h('c')} as _h from ${target} c
  where c."is_current" and (${keys.map((k) => `c.${k}`).join(', ')}) in (select ${keys.join(', ')} from pg_temp.${stage})
), newer as (
  select l.*, ${h('l')} as _h from latest l left join cur c on ${on('c', 'l')}
  where c."valid_from" is null or l._valid_from > c."valid_from"
), chain as (
  select n.*, coalesce(lag(n._h) over (partition by ${keys.map((k) => `n.${k}`).join(', ')} order by n._valid_from), c._h) as _prev_h
  from newer n left join cur c on ${on('c', 'n')}
)
select ${stageCols.join(', ')} from chain where _prev_h is distinct from _h`,
        // 2. Close the current version of every key that got a new one.
        `update ${target} t set "valid_to" = v._valid_from, "is_current" = false, "_loaded_at" = now()
from (select distinct on (${keys.join(', ')}) ${keys.join(', ')}, _valid_from from pg_temp.${versions} order by ${keys.join(', ')}, _valid_from) v
where ${on('t', 'v')} and t."is_current"`,
        // 3. Insert the new versions, each valid until the next one.
        `insert into ${target} (${[...data, '"valid_from"', '"valid_to"', '"is_current"', '"_topic"', '"_partition"', '"_offset"'].join(', ')})
select ${[...data, '_valid_from', `lead(_valid_from) over w`, `lead(_valid_from) over w is null`, '_topic', '_partition', '_offset'].join(', ')}
from pg_temp.${versions}
window w as (partition by ${keys.join(', ')} order by _valid_from)
on conflict (${keys.join(', ')}, "valid_from") do nothing`,
      ];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The connector

export interface WarehouseSinkStats {
  /** Committed flush transactions this table took part in. */
  batches: number;
  /** Rows merged (records the warehouse already had are not counted). */
  rows: number;
  /** Bytes sent through COPY for this table. */
  bytes: number;
  /** Time spent in committed flush transactions, total and last (shared by a transaction group). */
  flushSeconds: number;
  lastFlushSeconds: number;
  retries: number;
  /** Flushes given up (their records' acks failed). */
  failures: number;
  /** Records skipped because the warehouse already had them (replays after a crash or rebalance). */
  skippedReplays: number;
  /** Epoch ms of the last committed flush; 0 before the first. */
  lastFlushAt: number;
  /** Records waiting for the next flush. */
  pending: number;
  /** Records of this table handed to `<source>.dlq` (reason `sink`): rows the table can never take. */
  deadLettered: number;
  /** Flush transactions this table took part in, committed or rolled back (retries and isolation included). */
  transactions: number;
  /** Batches a rejected row made split (bisection) to find the rows to dead-letter. */
  isolations: number;
  /** Transactions spent isolating: the halves tried, and the offsets-only one that stores dead letters' offsets. */
  isolationTransactions: number;
}

export interface WarehouseSinkConnector extends SinkConnector {
  readonly stats: WarehouseSinkStats;
  readonly config: WarehouseSinkConfig;
  /** The resolved table (after `connect`). */
  plan(): TablePlan | undefined;
}

const live = new Set<WarehouseSinkConnector>();

/** Warehouse connectors of this process that are connected and not closed (for metrics). */
export function liveWarehouseSinks(): readonly WarehouseSinkConnector[] {
  return [...live];
}

const RETRIABLE_NET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Connection loss, server shutdown, resource exhaustion, serialization failure, deadlock. */
export function isRetriablePgError(err: unknown): boolean {
  if (isSluiceError(err)) return false;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (RETRIABLE_NET.has(code)) return true;
    return /^(08|53|57P0|58)/.test(code) || code === '40001' || code === '40P01';
  }
  // node-postgres reports a dropped connection without a SQLSTATE.
  return /connection|terminated|timeout|ECONN/i.test((err as Error)?.message ?? '');
}

/**
 * SQLSTATEs that blame a row, not the database or the connection: the same row fails on every
 * retry, so the sink isolates it and dead-letters it instead of stopping.
 * - Class 22, data exception: a value the column's type refuses — invalid text representation
 *   (22P02), numeric value out of range (22003), invalid byte sequence / a NUL byte (22021),
 *   untranslatable character (22P05: \u0000 in jsonb), datetime format or overflow (22007,
 *   22008), string too long (22001), and the rest of the class.
 * - 23502 not-null and 23514 check violations: a value the table's own constraints refuse.
 * Not 23505 (unique) or 23503 (foreign key): they depend on other rows and on timing (another
 * writer, a parent row not loaded yet), not on this row alone. Connection loss, serialization
 * failures and deadlocks stay retriable (isRetriablePgError) and never dead-letter.
 */
export function isRowRejectedSqlState(code: unknown): boolean {
  return typeof code === 'string' && (/^22[0-9A-Z]{3}$/.test(code) || code === '23502' || code === '23514');
}

/** A flush failed because of the values of a row: the server refused one (see isRowRejectedSqlState), or the sink could not write it as COPY text. */
function isRowRejection(err: unknown): boolean {
  if (isSluiceError(err)) return isSluiceError(err, 'SINK_RECORD_REJECTED');
  return isRowRejectedSqlState((err as { code?: unknown })?.code);
}

/**
 * What a dead letter says about a Postgres rejection: the server's message with the offending
 * value withheld (Postgres quotes it at the end of some messages, e.g. `invalid input syntax for
 * type integer: "abc"`; a dead letter's message describes the failure, never carries the record,
 * and the runner logs it), plus the column when the server names it.
 */
export function describeRowRejection(err: unknown): { message: string; code?: string } {
  if (isSluiceError(err))
    return { message: err.message, code: typeof err.details?.sqlState === 'string' ? err.details.sqlState : undefined };
  const e = err as { message?: unknown; code?: unknown; column?: unknown; where?: unknown };
  let message = String(e?.message ?? err).replace(/: ".*"$/s, ': (value withheld)');
  const column =
    typeof e?.column === 'string'
      ? e.column
      : typeof e?.where === 'string'
        ? /, column ([^:]+):/.exec(e.where)?.[1]
        : undefined;
  if (column) message += ` (column ${column})`;
  return { message, code: typeof e?.code === 'string' ? e.code : undefined };
}

/** A table's first text column holding a NUL byte (or a key that does): Postgres text can never store `\u0000`. */
function nulColumnOf(o: Output, textColumns: string[]): string | undefined {
  const v = (o.value ?? {}) as Record<string, unknown>;
  for (const c of textColumns) {
    const x = v[c];
    if (typeof x === 'string' && x.includes('\u0000')) return c;
  }
  const k = o.key;
  if (typeof k === 'string' ? k.includes('\u0000') : Buffer.isBuffer(k) && k.includes(0)) return '_key';
  return undefined;
}

/** The pending rows of a flush, per member (table). */
type Cut = [Member, Output[]][];

type DeadLetter = NonNullable<SinkContext['deadLetter']>;

/** The table whose statement a flush error came from (the dead letter names it). */
const failedIn = new WeakMap<object, string>();

/** Refusals found before sending (they are dead-lettered as they are, not described from a server error). */
const refusals = new WeakSet<object>();

/** What `landOrDeadLetter` does with a part of a batch or one of its records. */
export interface IsolationSteps<T> {
  /** Writes the part in one transaction (all or nothing); throws what failed. */
  land(part: T[]): Promise<void>;
  /** Dead-letters one item for `why` (its own failure, or its refusal); resolves once that is durable. */
  deadLetter(item: T, why: unknown): Promise<void>;
  /** Does the failure blame the rows? Anything else stops the isolation and is thrown. */
  isRejection(err: unknown): boolean;
  /** Why the item is refused without trying it (client-side checks), if it is. */
  refusedBefore?(item: T): unknown;
}

/**
 * Lands `items` (in order) with as few transactions as it can, dead-lettering the ones that
 * cannot land: the refused ones as they come, the rest by bisection. A run of items between
 * refused ones is tried whole; a part that fails is split in halves (left first); an item that
 * fails on its own is dead-lettered. When a part failed and its left half landed, the right half
 * holds the culprit and is split without being tried whole; a single item is always tried on its
 * own, so only its own failure dead-letters it. Per bad item: at most two transactions per
 * halving and ⌈log2 n⌉ halvings. `failure`: the whole list already failed with it.
 *
 * Everything happens strictly in order: when `land(part)` runs, every item before the part is
 * landed or dead-lettered, and no item after it is — what lets the warehouse store offsets.
 */
export async function landOrDeadLetter<T>(items: T[], steps: IsolationSteps<T>, failure?: unknown): Promise<void> {
  const settle = async (part: T[], failed?: unknown): Promise<void> => {
    if (!part.length) return;
    if (failed === undefined) {
      try {
        await steps.land(part);
        return;
      } catch (err) {
        if (!steps.isRejection(err)) throw err;
        failed = err;
      }
    }
    if (part.length === 1) {
      await steps.deadLetter(part[0], failed);
      return;
    }
    const mid = part.length >>> 1;
    const left = part.slice(0, mid),
      right = part.slice(mid);
    let leftLanded = true;
    try {
      await steps.land(left);
    } catch (err) {
      if (!steps.isRejection(err)) throw err;
      leftLanded = false;
      await settle(left, err);
    }
    await settle(right, leftLanded && right.length > 1 ? failed : undefined);
  };
  let run: T[] = [];
  for (const item of items) {
    const why = steps.refusedBefore?.(item);
    if (why === undefined) {
      run.push(item);
      continue;
    }
    await settle(run);
    run = [];
    await steps.deadLetter(item, why);
  }
  // The whole list's failure, when there is one, is this run's only if nothing was refused.
  await settle(run, failure !== undefined && run.length === items.length ? failure : undefined);
}

/** One source record's rows in a flush, per table: what lands or is dead-lettered as a whole. */
interface Unit {
  source?: SourceRecord;
  rows: Map<Member, Output[]>;
}

/** The cut's rows grouped by source record, sorted by topic, partition and offset (rows without a source last, one unit each). */
function unitsOf(cut: Cut): Unit[] {
  const byCoordinates = new Map<string, Unit>();
  const sourced: Unit[] = [];
  const loose: Unit[] = [];
  for (const [m, rows] of cut) {
    for (const o of rows) {
      const s = o.source;
      let u: Unit | undefined;
      if (s) {
        const k = `${tpKey(s.topic, s.partition)}\u0000${s.offset}`;
        u = byCoordinates.get(k);
        if (!u) {
          u = { source: s, rows: new Map() };
          byCoordinates.set(k, u);
          sourced.push(u);
        }
      } else {
        u = { rows: new Map() };
        loose.push(u);
      }
      const list = u.rows.get(m);
      if (list) list.push(o);
      else u.rows.set(m, [o]);
    }
  }
  sourced.sort((a, b) => {
    const x = a.source!,
      y = b.source!;
    if (x.topic !== y.topic) return x.topic < y.topic ? -1 : 1;
    if (x.partition !== y.partition) return x.partition - y.partition;
    const d = BigInt(x.offset) - BigInt(y.offset);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
  return sourced.concat(loose);
}

/** The rows of `units` as a cut of `members` (in their order; members without rows left out). */
function cutOf(units: Unit[], members: Member[]): Cut {
  const out: Cut = [];
  for (const m of members) {
    const rows: Output[] = [];
    for (const u of units) {
      const r = u.rows.get(m);
      if (r) for (const o of r) rows.push(o);
    }
    if (rows.length) out.push([m, rows]);
  }
  return out;
}

function firstRefusal(u: Unit, refused: Map<Output, SinkRecordError>): SinkRecordError | undefined {
  if (!refused.size) return undefined;
  for (const rows of u.rows.values())
    for (const o of rows) {
      const why = refused.get(o);
      if (why) return why;
    }
  return undefined;
}

/**
 * Hands a record's rows to the runner's dead-letter queue as one output (one dead letter, however
 * many tables refused it) under an ack of ours, and resolves once the dead letter is durable (the
 * runner releases that ack): no offset past the record is stored before. The rows' own acks
 * follow ours, so the runner's commit waits for the dead letter too. Rejects when the runner
 * fails it (SLUICE_SINK_ERRORS=fail, or the DLQ write failed).
 */
function handOver(deadLetter: DeadLetter, outputs: Output[], error: SinkRecordError): Promise<void> {
  return new Promise((resolve, reject) => {
    let refs = 1;
    let settled = false;
    const ack: Ack = {
      retain() {
        if (!settled) refs++;
      },
      release() {
        if (settled || --refs > 0) return;
        settled = true;
        for (const o of outputs) for (const a of o.acks) a.release();
        resolve();
      },
      fail(err) {
        if (settled) return;
        settled = true;
        for (const o of outputs) for (const a of o.acks) a.fail(err);
        reject(err);
      },
    };
    try {
      deadLetter({ ...outputs[0], acks: [ack] }, error);
    } catch (err) {
      ack.fail(err);
    }
  });
}

/** One table's share of a writer. */
interface Member {
  name: string;
  cfg: WarehouseSinkConfig;
  table: string;
  ctx: SinkContext;
  plan?: TablePlan;
  sql?: { copy: string; merge: string[]; stage: string[] };
  /** Columns written as text (`text`, `uuid`): checked for NUL bytes before a batch is sent. */
  textColumns?: string[];
  pending: Output[];
  stats: WarehouseSinkStats;
  connecting?: Promise<void>;
  closed: boolean;
}

/**
 * Flushes the pending rows of its members (one table each) in one transaction per flush. A
 * standalone sink has a writer of its own; the sinks of one transaction group in one runner
 * share one, so their tables and their stored offsets always move together.
 */
interface Writer {
  add(m: Member, output: Output): void;
  join(m: Member): void;
  connectMember(m: Member): Promise<void>;
  flush(): Promise<void>;
  leave(m: Member, deadlineMs: number): Promise<void>;
  query<R extends pg.QueryResultRow>(sql: string, args: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Transaction groups per runner: the runner hands all its sinks the same `schemaIds` map. */
const groups = new WeakMap<object, Map<string, Writer>>();

function writerFor(cfg: WarehouseSinkConfig, ctx: SinkContext): Writer {
  if (!cfg.transactionGroup) return createWriter(cfg, ctx, () => {});
  const conn = cfg.connection
    ? JSON.stringify({
        h: cfg.connection.host,
        p: cfg.connection.port,
        d: cfg.connection.database,
        u: cfg.connection.user,
      })
    : '';
  const key = [ctx.topology, cfg.transactionGroup, cfg.database, conn].join('\u0000');
  let byKey = groups.get(ctx.schemaIds);
  if (!byKey) {
    byKey = new Map();
    groups.set(ctx.schemaIds, byKey);
  }
  let w = byKey.get(key);
  if (!w) {
    const map = byKey;
    w = createWriter(cfg, ctx, () => {
      map.delete(key);
    });
    byKey.set(key, w);
  }
  return w;
}

function createWriter(first: WarehouseSinkConfig, ctx: SinkContext, onEnd: () => void): Writer {
  const members = new Set<Member>();
  let pool: pg.Pool | undefined;
  let connecting: Promise<pg.Pool> | undefined;
  let chain: Promise<void> = Promise.resolve();
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;
  let total = 0;
  let oldestPendingAt = 0;
  const staged = new WeakMap<pg.PoolClient, Set<string>>();
  const open = () => [...members].filter((m) => !m.closed);
  // In a group the most eager member's batching applies.
  const batchRecords = () => Math.min(...[...members].map((m) => m.cfg.batchRecords));
  const lingerMs = () => Math.min(...[...members].map((m) => m.cfg.lingerMs));
  const retry = (what: string, onRetry?: () => void) => ({
    retries: first.retries,
    initialMs: first.retryInitialMs,
    maxMs: first.retryMaxMs,
    retriable: isRetriablePgError,
    onRetry: (err: unknown, attempt: number) => {
      onRetry?.();
      log.warn(
        { sinks: [...members].map((m) => m.name), attempt, err: (err as Error).message },
        `${what} failed; retrying`,
      );
    },
  });

  function connectPool(): Promise<pg.Pool> {
    connecting ??= (async () => {
      // The runner's configuration first (what `sluice run` validated at start-up), the environment otherwise.
      const base =
        first.connection ??
        (() => {
          const c = ctx.config ?? loadConfig();
          return pgConnection(c, c.warehouseDatabase);
        })();
      const p = new pg.Pool({
        ...base,
        ...(first.database ? { database: first.database } : {}),
        max: first.poolSize,
        idleTimeoutMillis: 30_000,
        application_name: 'sluice-warehouse',
      });
      p.on('error', (err) => log.warn({ err: err.message }, 'idle warehouse connection lost'));
      pool = p;
      return p;
    })();
    return connecting;
  }

  async function ensureTable(p: pg.Pool, m: Member): Promise<void> {
    const t = m.plan!;
    const client = await p.connect();
    let ok = false;
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [DDL_LOCK_KEY]);
      for (const sql of offsetsTableSql()) await client.query(sql);
      await client.query(`create schema if not exists ${quoteIdent(t.schema)}`);
      const relation = qualified(t);
      const { rows } = await client.query<ExistingColumn>(
        `select a.attname as name, not a.attnotnull as nullable, format_type(a.atttypid, a.atttypmod) as type, col_description(a.attrelid, a.attnum) as comment
           from pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped order by a.attnum`,
        [relation],
      );
      let tableComment: string | null = null;
      if (rows.length === 0) {
        for (const sql of createTableSql(t)) await client.query(sql);
      } else {
        tableComment =
          (
            await client.query<{ c: string | null }>(`select obj_description(to_regclass($1), 'pg_class') as c`, [
              relation,
            ])
          ).rows[0]?.c ?? null;
        const { statements, warnings } = evolveTableSql(t, rows);
        for (const w of warnings) log.warn({ sink: m.name, table: relation }, w);
        for (const sql of statements) await client.query(sql);
        if (statements.length) log.info({ sink: m.name, table: relation, changes: statements }, 'table evolved');
      }
      for (const sql of commentSql(t, rows, tableComment)) await client.query(sql);
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

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    chain = chain.then(() => {
      scheduled = false;
      return drain(false);
    });
  }

  function armTimer(): void {
    if (timer || total === 0) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        schedule();
      },
      Math.max(0, lingerMs() - (Date.now() - oldestPendingAt)),
    );
  }

  /**
   * Writes everything pending once the batch is full or has lingered (always when forced). All
   * members' pending rows go into the same transaction: outputs of one input reach every sink in
   * the same tick, so this cut never splits an input record between tables.
   */
  async function drain(force: boolean): Promise<void> {
    while (total > 0 && (force || total >= batchRecords() || Date.now() - oldestPendingAt >= lingerMs())) {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
      }
      const cut: [Member, Output[]][] = [];
      for (const m of members) {
        if (m.pending.length) cut.push([m, m.pending]);
        m.pending = [];
        m.stats.pending = 0;
      }
      total = 0;
      oldestPendingAt = 0;
      await writeBatch(cut);
    }
    armTimer();
  }

  async function writeBatch(cut: Cut): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      for (const [m] of cut) await writer.connectMember(m);
    } catch (err) {
      failRows(cut, err);
      return;
    }
    // The members of a writer belong to one runner: one dead-letter queue for all of them.
    const deadLetter = cut[0]?.[0].ctx.deadLetter;
    const refused = deadLetter ? refusedBeforeSending(cut) : new Map<Output, SinkRecordError>();
    if (deadLetter && refused.size) {
      await isolate(cut, deadLetter, refused, undefined);
      return;
    }
    try {
      const result = await landOnce(cut, [], false);
      account(cut, result, started);
      releaseRows(cut);
    } catch (err) {
      // Without a dead-letter queue (unit tests without a runner) a refused row fails its batch.
      if (deadLetter && isRowRejection(err)) await isolate(cut, deadLetter, refused, err);
      else failRows(cut, err);
    }
  }

  /** One flush transaction, with retries of what is retriable (connection loss, serialization failure, deadlock). */
  function landOnce(cut: Cut, advance: Unit[], isolating: boolean): Promise<{ rows: number; bytes: number }[]> {
    const taking = new Set([...cut.map(([m]) => m), ...advance.flatMap((u) => [...u.rows.keys()])]);
    return withRetry(
      () => transact(cut, advance, isolating),
      retry('warehouse flush', () => {
        for (const m of taking) m.stats.retries++;
      }),
    );
  }

  /**
   * A batch holding rows the tables refuse (isRowRejection): everything else lands, those rows
   * are dead-lettered (Kafka Connect's errors.tolerance=all), by `landOrDeadLetter`.
   *
   * The unit is a source record: its rows in every table of the group land or are dead-lettered
   * together (one dead letter; no table of a group holds a record another lacks). Units are
   * sorted by partition and offset; each part is tried in its own transaction — COPY, merge and
   * offsets, as any batch, so exactly-once holds.
   *
   * Offsets: parts are settled strictly in offset order, so when one commits every record before
   * it is landed or dead-lettered, and the offsets it stores (the greatest of its rows and of the
   * dead letters before it) never pass a record that is neither; `greatest()` keeps them from
   * moving back. A dead letter is waited for until it is durable before any later commit stores
   * an offset past it (a crash in between would lose the record); its offsets ride with the next
   * commit, or with an offsets-only transaction at the end, so a restart does not send it again.
   */
  async function isolate(
    cut: Cut,
    deadLetter: DeadLetter,
    refused: Map<Output, SinkRecordError>,
    failure: unknown,
  ): Promise<void> {
    const members = cut.map(([m]) => m);
    const units = unitsOf(cut);
    const handled = new Set<Unit>();
    /** Dead-lettered (durably) records whose offsets are not stored yet. */
    let unstored: Unit[] = [];
    for (const m of members) m.stats.isolations++;
    log.warn(
      {
        sinks: members.map((m) => m.name),
        records: units.length,
        refusedBeforeSending: refused.size,
        sqlState: failure === undefined ? undefined : describeRowRejection(failure).code,
      },
      'warehouse batch holds rows a table refuses; isolating them',
    );

    const land = async (part: Unit[]): Promise<void> => {
      const partCut = cutOf(part, members);
      const started = process.hrtime.bigint();
      const result = await landOnce(partCut, unstored, true);
      unstored = [];
      for (const u of part) handled.add(u);
      account(partCut, result, started);
      releaseRows(partCut);
    };
    const deadLetterUnit = async (u: Unit, why: SinkRecordError): Promise<void> => {
      await handOver(deadLetter, [...u.rows.values()].flat(), why);
      handled.add(u);
      unstored.push(u);
      for (const [m, rows] of u.rows) m.stats.deadLettered += rows.length;
    };
    const rejection = (err: unknown): SinkRecordError => ({
      sink: (typeof err === 'object' && err !== null ? failedIn.get(err) : undefined) ?? members[0].name,
      ...describeRowRejection(err),
    });
    try {
      // A refused record the tables already have offsets past is a replay: the run that stored
      // them dead-lettered it. It goes with the others, and the flush skips it as any replay.
      const stored = refused.size ? await storedPositions(units.filter((u) => firstRefusal(u, refused))) : undefined;
      const replayed = (u: Unit) =>
        !!u.source &&
        [...u.rows.keys()].every(
          (m) =>
            BigInt(u.source!.offset) <
            (stored?.get(`${m.name}\u0000${tpKey(u.source!.topic, u.source!.partition)}`) ?? 0n),
        );
      await landOrDeadLetter(
        units,
        {
          land,
          deadLetter: (u, why) =>
            deadLetterUnit(u, refusals.has(why as object) ? (why as SinkRecordError) : rejection(why)),
          isRejection: isRowRejection,
          refusedBefore: (u) => {
            const why = firstRefusal(u, refused);
            return why && !replayed(u) ? why : undefined;
          },
        },
        failure,
      );
      if (unstored.length) await landOnce([], unstored, true);
    } catch (err) {
      // A failure that is not the rows' (or the runner refused a dead letter: SLUICE_SINK_ERRORS=fail):
      // what is neither landed nor dead-lettered fails, and the runner stops.
      failRows(
        cutOf(
          units.filter((u) => !handled.has(u)),
          members,
        ),
        err,
      );
    }
  }

  /**
   * The stored next offsets of the units' (sink, topic, partition) positions, read without a
   * lock: they only grow, so a stale one at worst sends a dead letter twice (at least once).
   */
  async function storedPositions(units: Unit[]): Promise<Map<string, bigint>> {
    const keys = new Map<string, [string, string, number]>();
    for (const u of units)
      if (u.source)
        for (const m of u.rows.keys())
          keys.set(`${m.name}\u0000${tpKey(u.source.topic, u.source.partition)}`, [
            m.name,
            u.source.topic,
            u.source.partition,
          ]);
    const out = new Map<string, bigint>();
    if (!keys.size) return out;
    const list = [...keys.values()];
    try {
      const { rows } = await writer.query<{ sink: string; topic: string; partition: number; next_offset: string }>(
        `select o.sink, o.topic, o.partition, o.next_offset::text as next_offset from ${OFFSETS} o
           join unnest($1::text[], $2::text[], $3::int[]) as u(s, t, p) on o.sink = u.s and o.topic = u.t and o.partition = u.p`,
        [list.map((k) => k[0]), list.map((k) => k[1]), list.map((k) => k[2])],
      );
      for (const r of rows) out.set(`${r.sink}\u0000${tpKey(r.topic, r.partition)}`, BigInt(r.next_offset));
    } catch (err) {
      log.warn(
        { sinks: [...members].map((m) => m.name), err: (err as Error).message },
        'cannot read the stored offsets; refused records are dead-lettered even if replayed',
      );
    }
    return out;
  }

  /** Rows Postgres can never take, found without a round trip: a NUL byte in text (the server says 22021). */
  function refusedBeforeSending(cut: Cut): Map<Output, SinkRecordError> {
    const refused = new Map<Output, SinkRecordError>();
    for (const [m, rows] of cut) {
      const cols = m.textColumns ?? [];
      for (const o of rows) {
        const column = nulColumnOf(o, cols);
        if (column === undefined) continue;
        const why: SinkRecordError = {
          sink: m.name,
          code: '22021',
          message: `invalid byte sequence for encoding "UTF8": 0x00 (column ${column}; found before sending: Postgres text cannot hold a NUL byte)`,
        };
        refusals.add(why);
        refused.set(o, why);
      }
    }
    return refused;
  }

  function account(cut: Cut, result: { rows: number; bytes: number }[], started: bigint): void {
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
  }

  function releaseRows(cut: Cut): void {
    for (const [, rows] of cut) for (const o of rows) for (const a of o.acks) a.release();
  }

  function failRows(cut: Cut, err: unknown): void {
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

  /**
   * One flush transaction: COPY and merge `cut`, and advance the stored offsets past its rows and
   * past the `advance` records (dead letters already durable). Returns, per member of `cut`, the
   * rows merged and the COPY bytes.
   */
  async function transact(cut: Cut, advance: Unit[], isolating: boolean): Promise<{ rows: number; bytes: number }[]> {
    const offsetRows: Cut = [...cut];
    for (const u of advance) for (const [m, rows] of u.rows) offsetRows.push([m, rows]);
    for (const m of new Set(offsetRows.map(([m]) => m))) {
      m.stats.transactions++;
      if (isolating) m.stats.isolationTransactions++;
    }
    const client = await pool!.connect();
    let ok = false;
    let keep = false;
    try {
      let ready = staged.get(client);
      if (!ready) {
        ready = new Set();
        staged.set(client, ready);
      }
      for (const [m] of cut) {
        if (ready.has(m.name)) continue;
        for (const sql of m.sql!.stage) await client.query(sql);
        ready.add(m.name);
      }
      await client.query('begin');
      // The (sink, topic, partition) positions this flush advances, and the next offset of each.
      const next = new Map<string, { sink: string; topic: string; partition: number; next: bigint }>();
      for (const [m, rows] of offsetRows) {
        for (const o of rows) {
          if (!o.source) continue;
          const k = `${m.name}\u0000${tpKey(o.source.topic, o.source.partition)}`;
          const n = BigInt(o.source.offset) + 1n;
          const cur = next.get(k);
          if (!cur) next.set(k, { sink: m.name, topic: o.source.topic, partition: o.source.partition, next: n });
          else if (n > cur.next) cur.next = n;
        }
      }
      const positions = [...next.values()];
      const stored = new Map<string, bigint>();
      if (positions.length) {
        const args = [positions.map((p) => p.sink), positions.map((p) => p.topic), positions.map((p) => p.partition)];
        // Lock the positions: a previous owner of a partition still committing (rebalance) goes
        // first, and we then see its offsets and skip what it wrote.
        await client.query(
          `insert into ${OFFSETS} (sink, topic, partition, next_offset)
          select s, t, p, 0 from unnest($1::text[], $2::text[], $3::int[]) as u(s, t, p) on conflict do nothing`,
          args,
        );
        const { rows } = await client.query<{ sink: string; topic: string; partition: number; next_offset: string }>(
          `select o.sink, o.topic, o.partition, o.next_offset::text as next_offset from ${OFFSETS} o
             join unnest($1::text[], $2::text[], $3::int[]) as u(s, t, p) on o.sink = u.s and o.topic = u.t and o.partition = u.p
            order by o.sink, o.topic, o.partition for update of o`,
          args,
        );
        for (const r of rows) stored.set(`${r.sink}\u0000${tpKey(r.topic, r.partition)}`, BigInt(r.next_offset));
      }
      const result: { rows: number; bytes: number }[] = [];
      for (const [m, rows] of cut) {
        const fresh = freshRecords(
          rows,
          (topic, partition) => stored.get(`${m.name}\u0000${tpKey(topic, partition)}`) ?? 0n,
        );
        let bytes = 0;
        if (fresh.length) {
          try {
            bytes = await copyRows(client, m, fresh);
            for (const sql of m.sql!.merge) await client.query(sql);
          } catch (err) {
            // Which table refused: the dead letter names it.
            if (err && typeof err === 'object') failedIn.set(err, m.name);
            throw err;
          }
        }
        result.push({ rows: fresh.length, bytes });
      }
      if (positions.length) {
        await client.query(
          `insert into ${OFFSETS} as o (sink, topic, partition, next_offset)
          select s, t, p, n from unnest($1::text[], $2::text[], $3::int[], $4::bigint[]) as u(s, t, p, n)
          on conflict (sink, topic, partition) do update set next_offset = greatest(o.next_offset, excluded.next_offset), updated_at = now()`,
          [
            positions.map((p) => p.sink),
            positions.map((p) => p.topic),
            positions.map((p) => p.partition),
            positions.map((p) => p.next.toString()),
          ],
        );
      }
      const pausing = cut.find(([m]) => m.cfg.pauseBeforeCommitMs > 0)?.[0].cfg;
      // Only a transaction that copied rows has a "between COPY and COMMIT" worth pausing in.
      if (pausing && result.some((r) => r.rows > 0)) {
        pausing.onPauseBeforeCommit?.({
          sink: cut.map(([m]) => m.name).join(','),
          rows: result.reduce((n, r) => n + r.rows, 0),
          offsets: Object.fromEntries(positions.map((p) => [`${p.sink}:${p.topic}/${p.partition}`, p.next.toString()])),
        });
        await sleep(pausing.pauseBeforeCommitMs);
      }
      await client.query('commit');
      ok = true;
      return result;
    } catch (err) {
      const rolledBack = await client.query('rollback').then(
        () => true,
        () => false,
      );
      // A row the server refused leaves a healthy session, which isolation goes on using; any
      // other failure drops the connection (its temp tables with it; the next one stages afresh).
      keep = rolledBack && isRowRejectedSqlState((err as { code?: unknown })?.code);
      throw err;
    } finally {
      client.release(ok || keep ? undefined : true);
    }
  }

  async function copyRows(client: pg.PoolClient, m: Member, rows: Output[]): Promise<number> {
    let bytes = 0;
    const chunkChars = m.cfg.copyChunkBytes;
    const cols = m.plan!.columns;
    const ordering = m.cfg.orderingColumn;
    const scd2 = m.plan!.mode === 'scd2';
    function* chunks(): Generator<string> {
      let buf = '';
      for (let i = 0; i < rows.length; i++) {
        const o = rows[i];
        const v = (o.value ?? {}) as Record<string, unknown>;
        const s = o.source;
        const coordinates = s && { topic: s.topic, partition: s.partition, offset: s.offset };
        let line = '';
        let at = '';
        // A value that cannot be written (an absurd timestamp, a JSON value that does not
        // serialise) is this row's fault: SINK_RECORD_REJECTED, so isolation dead-letters it.
        // The message names the column, never the value.
        try {
          for (let c = 0; c < cols.length; c++) {
            at = cols[c].name;
            line += copyValue(v[at], cols[c].kind) + '\t';
          }
          const ts = o.timestamp ?? s?.timestamp;
          let validFrom: unknown = null;
          if (scd2) {
            validFrom = ordering ? v[ordering] : ts;
            if (typeof validFrom !== 'number') {
              throw new SluiceError(
                'SINK_RECORD_REJECTED',
                `warehouse sink ${m.name}: ${ordering || 'the record timestamp'} is not an epoch-ms number; it gives valid_from`,
                { coordinates },
              );
            }
          }
          at = '_timestamp';
          line +=
            (s ? escapeCopyText(s.topic) : COPY_NULL) +
            '\t' +
            (s ? String(s.partition) : COPY_NULL) +
            '\t' +
            (s ? s.offset : COPY_NULL) +
            '\t' +
            (o.key === null || o.key === undefined
              ? COPY_NULL
              : escapeCopyText(Buffer.isBuffer(o.key) ? o.key.toString('utf8') : o.key)) +
            '\t' +
            (typeof ts === 'number' ? isoOfMillis(ts) : COPY_NULL) +
            '\t';
          at = 'valid_from';
          line += copyValue(validFrom, 'timestamptz') + '\t' + i + '\n';
        } catch (err) {
          if (isSluiceError(err)) throw err;
          throw new SluiceError(
            'SINK_RECORD_REJECTED',
            `warehouse sink ${m.name}: column ${at}: ${err instanceof RangeError ? 'value out of range' : 'value cannot be written as COPY text'}`,
            { cause: err, coordinates },
          );
        }
        buf += line;
        if (buf.length >= chunkChars) {
          bytes += Buffer.byteLength(buf);
          yield buf;
          buf = '';
        }
      }
      if (buf) {
        bytes += Buffer.byteLength(buf);
        yield buf;
      }
    }
    await pipeline(Readable.from(chunks()), client.query(copyFrom(m.sql!.copy)));
    return bytes;
  }

  const writer: Writer = {
    join(m) {
      members.add(m);
    },
    connectMember(m) {
      m.connecting ??= (async () => {
        m.plan = tablePlanOf({ ...m.cfg, table: m.table }, resolveSchema(m));
        m.sql = {
          copy: copySql(m.plan, m.name),
          merge: mergeSql(m.plan, m.name),
          stage: stageTableSql(m.plan, m.name),
        };
        m.textColumns = m.plan.columns.filter((c) => c.kind === 'text' || c.kind === 'uuid').map((c) => c.name);
        const p = await connectPool();
        try {
          await withRetry(() => ensureTable(p, m), retry('warehouse DDL'));
        } catch (err) {
          throw asPgError(err, `warehouse sink ${m.name}: cannot create or evolve ${m.plan.schema}.${m.plan.table}`);
        }
        log.info(
          {
            sink: m.name,
            table: `${m.plan.schema}.${m.plan.table}`,
            mode: m.plan.mode,
            group: m.cfg.transactionGroup || undefined,
          },
          'warehouse sink connected',
        );
      })().catch((err) => {
        m.connecting = undefined;
        throw err;
      });
      return m.connecting;
    },
    add(m, output) {
      if (total === 0) oldestPendingAt = Date.now();
      m.pending.push(output);
      m.stats.pending = m.pending.length;
      total++;
      if (total >= batchRecords()) schedule();
      else armTimer();
    },
    flush() {
      const run = chain.then(() => drain(true));
      chain = run.catch(() => {});
      return run;
    },
    async leave(m, deadlineMs) {
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          writer.flush(),
          new Promise<void>((resolve) => {
            timeout = setTimeout(resolve, deadlineMs);
          }),
        ]);
      } finally {
        clearTimeout(timeout);
        m.closed = true;
        if (open().length === 0) {
          if (timer) clearTimeout(timer);
          onEnd();
          await pool?.end().catch(() => {});
          pool = undefined;
          connecting = undefined;
        }
      }
    },
    async query(sql, args) {
      const p = await connectPool();
      return p.query(sql, args);
    },
  };
  return writer;
}

function resolveSchema(m: Member): { [k: string]: unknown } {
  const s = m.cfg.avroSchema;
  if (typeof s !== 'string') return s;
  try {
    return loadSchema(s) as unknown as { [k: string]: unknown };
  } catch (err) {
    if (!isSluiceError(err, 'SCHEMA_NOT_FOUND')) throw err;
    // Not a file schema: the runner's type (it does not keep logical timestamp attributes).
    log.warn({ sink: m.name, schema: s }, 'schema not under schemas/; using the runner type, timestamps become bigint');
    return m.ctx.schemaFor(s).schema({ exportAttrs: true }) as unknown as { [k: string]: unknown };
  }
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/**
 * A warehouse sink for a topology output (one table). The factory validates the config at once
 * (CONFIG_INVALID before any I/O); the connector does I/O only from `connect`.
 */
export function warehouseSink(options: WarehouseSinkOptions): SinkFactory {
  const cfg = parseWarehouseSinkConfig(options);
  return (ctx) => createWarehouseSinkConnector(cfg, ctx);
}

export function createWarehouseSinkConnector(cfg: WarehouseSinkConfig, ctx: SinkContext): WarehouseSinkConnector {
  const table = cfg.table || defaultTableName(cfg.avroSchema);
  const member: Member = {
    name: cfg.name || `${cfg.schema}.${table}`,
    cfg,
    table,
    ctx,
    pending: [],
    stats: {
      batches: 0,
      rows: 0,
      bytes: 0,
      flushSeconds: 0,
      lastFlushSeconds: 0,
      retries: 0,
      failures: 0,
      skippedReplays: 0,
      lastFlushAt: 0,
      pending: 0,
      deadLettered: 0,
      transactions: 0,
      isolations: 0,
      isolationTransactions: 0,
    },
    closed: false,
  };
  const writer = writerFor(cfg, ctx);
  writer.join(member);

  const connector: WarehouseSinkConnector = {
    name: member.name,
    stats: member.stats,
    config: cfg,
    plan: () => member.plan,
    async connect() {
      if (member.closed) throw new SluiceError('INTERNAL', `warehouse sink ${member.name} is closed`);
      await writer.connectMember(member);
      live.add(connector);
    },
    add(output) {
      if (member.closed) {
        const err = new SluiceError('INTERNAL', `warehouse sink ${member.name} received a record after close`);
        for (const a of output.acks) a.fail(err);
        return;
      }
      if (cfg.mode === 'append' && !output.source) {
        const err = new SluiceError(
          'INTERNAL',
          `warehouse sink ${member.name} (append) needs the source record of every output: its coordinates are the row's identity`,
        );
        for (const a of output.acks) a.fail(err);
        return;
      }
      writer.add(member, output);
    },
    flush: () => writer.flush(),
    async close(deadlineMs) {
      if (member.closed) return;
      live.delete(connector);
      await writer.leave(member, deadlineMs);
    },
    async storedOffsets(topic) {
      await writer.connectMember(member);
      const { rows } = await writer.query<{ partition: number; next_offset: string }>(
        `select partition, next_offset::text as next_offset from ${OFFSETS} where sink = $1 and topic = $2`,
        [member.name, topic],
      );
      return new Map(rows.map((r) => [r.partition, r.next_offset]));
    },
  };
  return connector;
}

/** Records the warehouse does not have yet: at or after the stored offset, the last copy of a duplicate. */
function freshRecords(batch: Output[], storedNext: (topic: string, partition: number) => bigint): Output[] {
  const byCoordinates = new Map<string, Output>();
  const out: Output[] = [];
  for (const o of batch) {
    const s = o.source;
    if (!s) {
      out.push(o);
      continue;
    }
    if (BigInt(s.offset) < storedNext(s.topic, s.partition)) continue;
    byCoordinates.set(`${tpKey(s.topic, s.partition)}\u0000${s.offset}`, o);
  }
  return out.concat([...byCoordinates.values()]);
}

function asPgError(err: unknown, message: string, source?: Output['source']): SluiceError {
  if (isSluiceError(err)) return err;
  const pgErr = err as { code?: string; message?: string };
  return new SluiceError('PG_QUERY_FAILED', `${message}: ${pgErr?.message ?? String(err)}`, {
    cause: err,
    coordinates: source && { topic: source.topic, partition: source.partition, offset: source.offset },
    details: { sqlState: pgErr?.code },
  });
}
