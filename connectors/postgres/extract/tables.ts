import pg from 'pg';
import { SluiceError } from '../../../src/core/errors.ts';
import { OLTP_PRIMARY_KEYS, type OltpTable } from '../../../src/shop/oltp/oltpTables.ts';
import { isoUtc } from './isoUtc.ts';

/**
 * The tables the extract reads: their columns as Avro fields, and the keyset page query over
 * `(updated_at, pk)` with the cursor columns the source needs beside each row.
 */

type FieldKind = 'long' | 'int' | 'string' | 'decimal' | 'boolean' | 'timestamp';

/** What the extract reads from one table. */
export interface TableSpec {
  table: OltpTable;
  pk: string;
  /** Column holding the row's creation time, for op 'c' vs 'u' (order_items has none). */
  createdColumn?: string;
  /** Avro fields read from the row, in schema order; `op` and `extracted_at` are added. */
  fields: readonly (readonly [string, FieldKind])[];
}

/** The shop tables as the extract reads them; the Avro schemas `oltp.<table>` must agree. */
export const TABLE_SPECS: Record<OltpTable, TableSpec> = {
  customers: {
    table: 'customers',
    pk: OLTP_PRIMARY_KEYS.customers,
    createdColumn: 'created_at',
    fields: [
      ['customer_id', 'long'],
      ['email', 'string'],
      ['full_name', 'string'],
      ['country', 'string'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  products: {
    table: 'products',
    pk: OLTP_PRIMARY_KEYS.products,
    createdColumn: 'created_at',
    fields: [
      ['product_id', 'long'],
      ['sku', 'string'],
      ['name', 'string'],
      ['category', 'string'],
      ['price', 'decimal'],
      ['active', 'boolean'],
      ['created_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  orders: {
    table: 'orders',
    pk: OLTP_PRIMARY_KEYS.orders,
    createdColumn: 'ordered_at',
    fields: [
      ['order_id', 'long'],
      ['customer_id', 'long'],
      ['status', 'string'],
      ['total_amount', 'decimal'],
      ['currency', 'string'],
      ['ordered_at', 'timestamp'],
      ['updated_at', 'timestamp'],
    ],
  },
  order_items: {
    table: 'order_items',
    pk: OLTP_PRIMARY_KEYS.order_items,
    fields: [
      ['order_item_id', 'long'],
      ['order_id', 'long'],
      ['product_id', 'long'],
      ['quantity', 'int'],
      ['unit_price', 'decimal'],
      ['updated_at', 'timestamp'],
    ],
  },
};

/**
 * A row inserted and never updated has `updated_at` within microseconds of its creation time (both
 * defaults are clock_timestamp(), or the application sets them in the same statement). An update
 * inside this tolerance is also reported as 'c': the image is the current row either way.
 */
const CREATE_TOLERANCE = `interval '1 second'`;

function selectList(spec: TableSpec): string {
  const cols = spec.fields.map(([name, kind]) => {
    const col = pg.escapeIdentifier(name);
    // Milliseconds from the exact numeric epoch (Postgres 14+): truncated, never rounded up.
    if (kind === 'timestamp') return `floor(extract(epoch from t.${col}) * 1000)::bigint as ${col}`;
    if (kind === 'decimal' || kind === 'long') return `t.${col}::text as ${col}`;
    return `t.${col}`;
  });
  const pk = pg.escapeIdentifier(spec.pk);
  cols.push(
    `${isoUtc('t.updated_at')} as "_cursor_ts"`,
    `t.${pk}::text as "_cursor_id"`,
    `t.updated_at < $2::timestamptz as "_below_horizon"`,
  );
  cols.push(
    spec.createdColumn
      ? `(t.updated_at - t.${pg.escapeIdentifier(spec.createdColumn)}) <= ${CREATE_TOLERANCE} as "_fresh"`
      : `false as "_fresh"`,
  );
  return cols.join(', ');
}

/** Keyset page: $1 limit, $2 horizon, then the cursor ($3 updated_at[, $4 pk]). */
export function pageQuery(spec: TableSpec, cursor: Cursor | null): { text: string; name: string } {
  const pk = pg.escapeIdentifier(spec.pk);
  const where =
    cursor === null
      ? ''
      : cursor.id === null
        ? 'where t.updated_at >= $3::timestamptz'
        : `where (t.updated_at, t.${pk}) > ($3::timestamptz, $4::bigint)`;
  const kind = cursor === null ? 'all' : cursor.id === null ? 'since' : 'after';
  return {
    name: `sluice_extract_${spec.table}_${kind}`,
    // Qualified names: the select list reuses `updated_at` as an output name (epoch ms), and a bare
    // `order by updated_at` would sort by that truncated alias instead of the column.
    text:
      `select ${selectList(spec)} from ${pg.escapeIdentifier(spec.table)} t ${where} ` +
      `order by t.updated_at, t.${pk} limit $1`,
  };
}

/** A read cursor: after (updated_at, id), or from updated_at inclusive when id is null (--since). */
export interface Cursor {
  updated_at: string;
  id: string | null;
}

/** The Avro value of a row read by `pageQuery`. */
export function toValue(
  spec: TableSpec,
  row: Record<string, unknown>,
  op: 'c' | 'u' | 'r',
  extractedAt: number,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [name, kind] of spec.fields) {
    const v = row[name];
    value[name] = v === null ? null : kind === 'long' || kind === 'timestamp' ? Number(v) : v;
  }
  value.op = op;
  value.extracted_at = extractedAt;
  return value;
}

/** The Avro schema and the column list must agree; a drift is a bug, caught before any I/O. */
export function checkSchemaMatches(spec: TableSpec, schema: unknown): void {
  const names = ((schema as { fields?: { name: string }[] }).fields ?? []).map((f) => f.name);
  const expected = [...spec.fields.map(([n]) => n), 'op', 'extracted_at'];
  if (names.join(',') !== expected.join(',')) {
    throw new SluiceError(
      'INTERNAL',
      `schema of ${spec.table} has fields ${names.join(', ')}; the extractor reads ${expected.join(', ')}`,
    );
  }
}
