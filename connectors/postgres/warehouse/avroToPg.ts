import { SluiceError } from '../../../src/core/errors.ts';
import type { WarehouseSinkConfig } from './config.ts';

/**
 * From an Avro record schema to the table the warehouse sink owns: a Postgres type and a value
 * kind per field, and the table plan (keys, ordering, SCD2 columns) resolved against the config.
 * Pure: no I/O, so config and schema mistakes fail at start-up.
 */

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

/** One data column of a warehouse table, from one Avro field. */
export interface ColumnDef {
  name: string;
  /** SQL type as written in DDL, e.g. `numeric(12,2)`, `timestamptz`. */
  pgType: string;
  kind: ValueKind;
  nullable: boolean;
  comment?: string;
}

/** The table a sink owns, resolved from its config and Avro schema (`tablePlanOf`). */
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

/** An Avro schema as JSON: a type name, a union, or a complex type. */
export type AvroJson = string | AvroJson[] | { [k: string]: unknown };

/** The Postgres side of one Avro type. */
export interface PgColumnType {
  pgType: string;
  kind: ValueKind;
  nullable: boolean;
}

const PRIMITIVES: Record<string, PgColumnType> = {
  null: { pgType: 'text', kind: 'text', nullable: true },
  boolean: { pgType: 'boolean', kind: 'boolean', nullable: false },
  int: { pgType: 'integer', kind: 'integer', nullable: false },
  long: { pgType: 'bigint', kind: 'bigint', nullable: false },
  float: { pgType: 'real', kind: 'float', nullable: false },
  double: { pgType: 'double precision', kind: 'float', nullable: false },
  bytes: { pgType: 'bytea', kind: 'bytea', nullable: false },
  string: { pgType: 'text', kind: 'text', nullable: false },
};

const JSONB: PgColumnType = { pgType: 'jsonb', kind: 'jsonb', nullable: false };

/**
 * Names the sink adds to a table or to its staging tables: a field may not take one. The SCD2
 * columns (valid_from, valid_to, is_current, the surrogate key) are reserved in scd2 mode only.
 */
const RESERVED_COLUMN_NAMES = [
  '_topic',
  '_partition',
  '_offset',
  '_key',
  '_timestamp',
  '_loaded_at',
  '_seq',
  '_deleted',
  '_valid_from',
  '_h',
  '_prev_h',
];

/**
 * The Postgres column type of an Avro type: long→bigint, int→integer, string→text,
 * boolean→boolean, decimal(p,s)→numeric(p,s), timestamp-millis/micros→timestamptz, date→date,
 * enum→text, bytes/fixed→bytea, ["null", T]→T nullable, records/arrays/maps/other unions→jsonb.
 *
 * @example pgTypeOfAvro(['null', 'long']) // { pgType: 'bigint', kind: 'bigint', nullable: true }
 */
export function pgTypeOfAvro(type: AvroJson, named: Map<string, AvroJson> = new Map(), namespace = ''): PgColumnType {
  if (typeof type === 'string') {
    if (PRIMITIVES[type]) return { ...PRIMITIVES[type] };
    const ref = named.get(type) ?? named.get(namespace ? `${namespace}.${type}` : type);
    if (ref === undefined) return { ...JSONB }; // an unknown name: keep the value, as JSON
    return pgTypeOfAvro(ref, named, namespace);
  }
  if (Array.isArray(type)) return pgTypeOfUnion(type, named, namespace);
  return pgTypeOfComplex(type as Record<string, unknown>, named, namespace);
}

function pgTypeOfUnion(type: AvroJson[], named: Map<string, AvroJson>, namespace: string): PgColumnType {
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

function pgTypeOfComplex(t: Record<string, unknown>, named: Map<string, AvroJson>, namespace: string): PgColumnType {
  const ns = typeof t.namespace === 'string' ? t.namespace : namespace;
  registerNamed(t, named, namespace);
  const base = t.type as AvroJson;
  const logical = t.logicalType;
  switch (base) {
    case 'record':
    case 'error':
      // Walk the fields only to learn the names they define; the record itself is stored as JSON.
      for (const f of (t.fields as { type: AvroJson }[]) ?? []) pgTypeOfAvro(f.type, named, ns);
      return { ...JSONB };
    case 'array':
    case 'map':
      return { ...JSONB };
    case 'enum':
      return { pgType: 'text', kind: 'text', nullable: false };
    case 'fixed':
    case 'bytes':
      return decimalType(t) ?? { pgType: 'bytea', kind: 'bytea', nullable: false };
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

/** numeric(p,s) for a valid decimal logical type; an invalid one stays plain bytes (as Avro says). */
function decimalType(t: Record<string, unknown>): PgColumnType | undefined {
  const p = t.precision;
  const s = t.scale ?? 0;
  const valid =
    t.logicalType === 'decimal' &&
    Number.isInteger(p) &&
    (p as number) > 0 &&
    Number.isInteger(s) &&
    (s as number) >= 0 &&
    (s as number) <= (p as number);
  return valid ? { pgType: `numeric(${p},${s})`, kind: 'numeric', nullable: false } : undefined;
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

/**
 * Resolves the config against the Avro schema: the table the sink owns. Throws CONFIG_INVALID.
 *
 * @example
 *   const cfg = parseWarehouseSinkConfig({ avroSchema: 'silver.orders', mode: 'upsert', keyColumns: ['order_id'] });
 *   const plan = tablePlanOf(cfg, loadSchema('silver.orders')); // plan.table === 'orders'
 */
export function tablePlanOf(cfg: WarehouseSinkConfig, schema: { [k: string]: unknown }): TablePlan {
  const columns = columnsOfAvroRecord(schema);
  const table = cfg.table || defaultTableName(cfg.avroSchema);
  checkFieldsAgainstConfig(cfg, table, columns);
  const keySet = new Set(cfg.keyColumns);
  const trackedByDefault = () => columns.map((c) => c.name).filter((n) => !keySet.has(n));
  return {
    schema: cfg.schema,
    table,
    mode: cfg.mode,
    // Keys are never null: they are the primary (or natural) key.
    columns: columns.map((c) => (keySet.has(c.name) ? { ...c, nullable: false } : c)),
    keyColumns: cfg.keyColumns,
    orderingColumn: cfg.orderingColumn,
    trackedColumns: cfg.mode === 'scd2' ? (cfg.trackedColumns.length ? cfg.trackedColumns : trackedByDefault()) : [],
    surrogateKey: cfg.mode === 'scd2' ? cfg.surrogateKeyColumn || `${table}_sk` : '',
    comment: cfg.tableComment || (typeof schema.doc === 'string' ? schema.doc : undefined),
  };
}

/** Field names are plain identifiers clear of the sink's columns; keys, tracked and ordering columns are fields. */
function checkFieldsAgainstConfig(cfg: WarehouseSinkConfig, table: string, columns: ColumnDef[]): void {
  const names = new Set(columns.map((c) => c.name));
  const where = `warehouse sink ${cfg.schema}.${table}`;
  const invalid = (message: string) => new SluiceError('CONFIG_INVALID', `${where}: ${message}`);
  const reserved = new Set([
    ...RESERVED_COLUMN_NAMES,
    ...(cfg.mode === 'scd2' ? ['valid_from', 'valid_to', 'is_current', cfg.surrogateKeyColumn || `${table}_sk`] : []),
  ]);
  for (const c of columns) {
    if (reserved.has(c.name)) throw invalid(`field ${c.name} collides with a column the sink adds; rename it`);
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(c.name))
      throw invalid(`field name ${JSON.stringify(c.name)} is not a plain identifier`);
  }
  for (const k of cfg.keyColumns)
    if (!names.has(k)) throw invalid(`key column ${k} is not a field of the schema (fields: ${[...names].join(', ')})`);
  for (const k of cfg.trackedColumns)
    if (!names.has(k)) throw invalid(`tracked column ${k} is not a field of the schema`);
  if (cfg.mode === 'upsert' && cfg.orderingColumn && !names.has(cfg.orderingColumn))
    throw invalid(`orderingColumn ${cfg.orderingColumn} must be a column in upsert mode`);
}

/**
 * The table name when the config gives none: the last dotted part of a schema name, else the
 * record name in snake case.
 */
export function defaultTableName(avroSchema: WarehouseSinkConfig['avroSchema']): string {
  if (typeof avroSchema === 'string') return avroSchema.slice(avroSchema.lastIndexOf('.') + 1);
  const name = avroSchema.name.slice(avroSchema.name.lastIndexOf('.') + 1);
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}
