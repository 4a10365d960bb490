import type { SchemaElement } from 'hyparquet-writer';

/**
 * The Parquet columns of an Avro writer schema: one column per top-level field, typed from the
 * Avro type so a reader (DuckDB, Spark, Athena) sees DECIMAL, TIMESTAMP, DATE and nullability
 * instead of strings. Nested records, arrays, maps and unions of several non-null branches become
 * one string column holding JSON text (bytes as base64): every reader sees VARCHAR (DuckDB shows
 * Parquet's JSON logical type as BLOB without its json extension), `col::JSON` queries it, and
 * nothing is lost.
 * Pure: the sink, the benchmark and the unit tests derive columns with the same code.
 */

/** One Parquet column: its schema element and how an Avro value (as avsc decodes it) becomes the writer's value. */
export interface ParquetColumn {
  /** The Avro field name. */
  name: string;
  /** The leaf schema element (name, physical type, logical type, repetition). */
  element: SchemaElement;
  /** Avro value (never null here: nulls are handled by the caller) → value hyparquet-writer expects. */
  convert: (value: unknown) => unknown;
}

type AvroSchema = string | AvroSchema[] | { type: AvroSchema; [attr: string]: unknown };
type Named = Map<string, Exclude<AvroSchema, string | AvroSchema[]>>;

const identity = (v: unknown) => v;
const toBigInt = (v: unknown) => BigInt(v as number | bigint);
const jsonText = (v: unknown) => JSON.stringify(v, jsonReplacer);
const STRING: Omit<SchemaElement, 'name'> = {
  type: 'BYTE_ARRAY',
  converted_type: 'UTF8',
  logical_type: { type: 'STRING' },
};

/**
 * The columns of an Avro record schema (parsed JSON). A schema that is not a record becomes a
 * single column `value`.
 *
 * @example parquetColumnsOf(loadSchema('silver.orders')).map((c) => c.element.type) // ['INT64', 'INT64', …]
 */
export function parquetColumnsOf(schema: unknown): ParquetColumn[] {
  const named: Named = new Map();
  const root = resolve(schema as AvroSchema, named, undefined);
  if (typeof root === 'object' && !Array.isArray(root) && root.type === 'record') {
    const fields = root.fields as { name: string; type: AvroSchema }[];
    return fields.map((f) => columnOf(f.name, f.type, named, namespaceOf(root)));
  }
  return [columnOf('value', schema as AvroSchema, named, undefined)];
}

/** The full Parquet schema (root group, then the leaves) of these columns. */
export function parquetSchemaOf(columns: ParquetColumn[]): SchemaElement[] {
  return [{ name: 'root', num_children: columns.length }, ...columns.map((c) => c.element)];
}

function columnOf(name: string, type: AvroSchema, named: Named, ns: string | undefined): ParquetColumn {
  const branches = Array.isArray(type) ? type : [type];
  const nonNull = branches.filter((b) => resolveName(b, named, ns) !== 'null');
  const optional = nonNull.length < branches.length;
  const repetition_type = optional ? 'OPTIONAL' : 'REQUIRED';
  if (nonNull.length !== 1) {
    // A union of several types: its value can be any of them, so it is kept as JSON.
    return { name, element: { name, ...STRING, repetition_type }, convert: jsonText };
  }
  const leaf = leafOf(resolve(nonNull[0], named, ns), named, ns);
  return { name, element: { name, ...leaf.element, repetition_type }, convert: leaf.convert };
}

type Leaf = { element: Omit<SchemaElement, 'name'>; convert: (v: unknown) => unknown };

const PRIMITIVES: Record<string, Leaf> = {
  boolean: { element: { type: 'BOOLEAN' }, convert: identity },
  int: { element: { type: 'INT32' }, convert: identity },
  long: { element: { type: 'INT64' }, convert: toBigInt },
  float: { element: { type: 'FLOAT' }, convert: identity },
  double: { element: { type: 'DOUBLE' }, convert: identity },
  string: { element: STRING, convert: identity },
  bytes: { element: { type: 'BYTE_ARRAY' }, convert: identity },
};

function leafOf(t: AvroSchema, named: Named, ns: string | undefined): Leaf {
  if (typeof t === 'string') {
    const p = PRIMITIVES[t];
    if (p) return p;
    throw new Error(`parquet: unknown Avro type ${JSON.stringify(t)}`);
  }
  if (Array.isArray(t)) return { element: STRING, convert: jsonText };
  const logical = logicalLeaf(t, named, ns);
  if (logical) return logical;
  switch (t.type) {
    case 'enum':
      return PRIMITIVES.string;
    case 'fixed':
      return { element: { type: 'FIXED_LEN_BYTE_ARRAY', type_length: t.size as number }, convert: identity };
    case 'record':
    case 'array':
    case 'map':
      return { element: STRING, convert: jsonText };
    default:
      // `{ "type": "long" }` and the like: the primitive inside.
      return leafOf(resolve(t.type, named, ns), named, ns);
  }
}

/** The Parquet leaf of an Avro logical type; undefined when there is none (or its attributes are invalid). */
function logicalLeaf(t: Exclude<AvroSchema, string | AvroSchema[]>, named: Named, ns: string | undefined) {
  const base = resolveName(t.type, named, ns);
  switch (t.logicalType) {
    case 'decimal':
      return base === 'bytes' || base === 'fixed' ? decimalLeaf(t.precision, t.scale) : undefined;
    case 'timestamp-millis':
    case 'timestamp-micros':
    case 'local-timestamp-millis':
    case 'local-timestamp-micros': {
      if (base !== 'long') return undefined;
      const unit = String(t.logicalType).endsWith('millis') ? 'MILLIS' : 'MICROS';
      const isAdjustedToUTC = !String(t.logicalType).startsWith('local-');
      return {
        element: { type: 'INT64', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC, unit } },
        convert: toBigInt,
      } as Leaf;
    }
    case 'date':
      return base === 'int'
        ? ({
            element: { type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } },
            convert: identity,
          } as Leaf)
        : undefined;
    case 'time-millis':
      return base === 'int'
        ? ({
            element: {
              type: 'INT32',
              converted_type: 'TIME_MILLIS',
              logical_type: { type: 'TIME', isAdjustedToUTC: true, unit: 'MILLIS' },
            },
            convert: identity,
          } as Leaf)
        : undefined;
    case 'time-micros':
      return base === 'long'
        ? ({
            element: {
              type: 'INT64',
              converted_type: 'TIME_MICROS',
              logical_type: { type: 'TIME', isAdjustedToUTC: true, unit: 'MICROS' },
            },
            convert: toBigInt,
          } as Leaf)
        : undefined;
    default:
      return undefined; // uuid and unknown logical types: the underlying type
  }
}

/**
 * DECIMAL(precision, scale) on the smallest physical type that holds it (INT32 up to 9 digits,
 * INT64 up to 18, else a fixed-length two's complement). Values are Sluice decimal strings
 * ("12.30"); the unscaled integer is computed with BigInt, so no float ever touches money.
 */
function decimalLeaf(precision: unknown, scale: unknown): Leaf | undefined {
  const p = Number(precision);
  const s = Number(scale ?? 0);
  if (!Number.isInteger(p) || p < 1 || !Number.isInteger(s) || s < 0 || s > p) return undefined;
  const physical: Omit<SchemaElement, 'name'> =
    p <= 9
      ? { type: 'INT32' }
      : p <= 18
        ? { type: 'INT64' }
        : { type: 'FIXED_LEN_BYTE_ARRAY', type_length: decimalBytes(p) };
  return {
    element: {
      ...physical,
      converted_type: 'DECIMAL',
      precision: p,
      scale: s,
      logical_type: { type: 'DECIMAL', precision: p, scale: s },
    },
    convert: (v) => unscaledDecimal(v, s),
  };
}

/** Bytes of a two's complement integer that holds every value of `precision` digits. */
export function decimalBytes(precision: number): number {
  const max = 10n ** BigInt(precision);
  return Math.ceil((max.toString(2).length + 1) / 8);
}

const DECIMAL_TEXT = /^(-)?(\d+)(?:\.(\d+))?$/;

/** The unscaled integer of a decimal string at `scale` ("12.3", scale 2 → 1230n). */
export function unscaledDecimal(v: unknown, scale: number): bigint {
  const m = typeof v === 'string' ? DECIMAL_TEXT.exec(v) : null;
  if (!m) throw new Error(`parquet: not a decimal string: ${typeof v}`);
  const [, sign, int, frac = ''] = m;
  if (frac.length > scale) throw new Error(`parquet: decimal has more than ${scale} fractional digits`);
  const magnitude = BigInt(int + frac.padEnd(scale, '0'));
  return sign ? -magnitude : magnitude;
}

/** Follows named-type references and registers named types (records, enums, fixed) as they appear. */
function resolve(t: AvroSchema, named: Named, ns: string | undefined): AvroSchema {
  if (typeof t === 'string') return named.get(fullName(t, ns)) ?? named.get(t) ?? t;
  if (Array.isArray(t)) return t;
  if (
    (t.type === 'record' || t.type === 'enum' || t.type === 'fixed' || t.type === 'error') &&
    typeof t.name === 'string'
  ) {
    named.set(fullName(t.name, (t.namespace as string | undefined) ?? ns), t);
    if (t.type === 'record' || t.type === 'error')
      for (const f of t.fields as { type: AvroSchema }[]) collectNamed(f.type, named, namespaceOf(t) ?? ns);
  }
  return t;
}

function collectNamed(t: AvroSchema, named: Named, ns: string | undefined): void {
  if (Array.isArray(t)) for (const b of t) collectNamed(b, named, ns);
  else if (typeof t === 'object') {
    resolve(t, named, ns);
    if (t.type === 'array') collectNamed(t.items as AvroSchema, named, ns);
    if (t.type === 'map') collectNamed(t.values as AvroSchema, named, ns);
  }
}

/** The type name behind a schema: a primitive, a complex kind, or `null`. */
function resolveName(t: AvroSchema, named: Named, ns: string | undefined): string {
  const r = resolve(t, named, ns);
  if (typeof r === 'string') return r;
  if (Array.isArray(r)) return 'union';
  return typeof r.type === 'string' && !named.has(r.type) ? r.type : resolveName(r.type, named, ns);
}

function fullName(name: string, ns: string | undefined): string {
  return name.includes('.') || !ns ? name : `${ns}.${name}`;
}

function namespaceOf(t: Exclude<AvroSchema, string | AvroSchema[]>): string | undefined {
  const name = t.name as string | undefined;
  if (name?.includes('.')) return name.slice(0, name.lastIndexOf('.'));
  return t.namespace as string | undefined;
}

/** JSON text of nested values: bytes as base64, bigints as strings (as the jsonl.gz format writes them). */
export function jsonReplacer(this: Record<string, unknown>, k: string, v: unknown): unknown {
  const original = this[k];
  if (Buffer.isBuffer(original)) return original.toString('base64');
  if (typeof v === 'bigint') return v.toString();
  return v;
}
