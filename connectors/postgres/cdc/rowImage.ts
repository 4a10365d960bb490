import { SluiceError } from '../../../src/core/errors.ts';
import type { TableSpec } from '../extract/tables.ts';

/**
 * Row images of the CDC source: the text form of each column (pgoutput sends text; the snapshot
 * reads with text parsers too, so both paths share this code) into the Avro value of
 * `oltp.<table>`, exactly as the extract writes it: bigint as a number, numeric as a decimal
 * string, timestamptz as epoch milliseconds truncated (never rounded up), boolean from t/f.
 */

export type CdcOp = 'c' | 'u' | 'd' | 'r';

/** `2025-06-01 12:34:56.123456+00` (DateStyle ISO; any offset, seconds optional). */
const TIMESTAMPTZ =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?$/;

/** Epoch milliseconds of a Postgres timestamptz text (ISO DateStyle), sub-millisecond digits cut off. */
export function timestamptzToMillis(text: string): number {
  const m = TIMESTAMPTZ.exec(text);
  if (!m) throw new Error(`not an ISO timestamptz: ${JSON.stringify(text)} (infinity and BC dates are refused)`);
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os] = m;
  const ms = Number((frac ?? '').padEnd(3, '0').slice(0, 3));
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const offsetSeconds = sign ? Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0) : 0;
  return local - (sign === '-' ? -1 : 1) * offsetSeconds * 1000;
}

/** A numeric's text as the Avro decimal string (`-?\d+(\.\d+)?`); NaN and infinities are refused. */
export function numericToDecimal(text: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`not a finite numeric: ${JSON.stringify(text)}`);
  return text;
}

/** A bigint's or integer's text as a JS number, refusing what a double cannot hold exactly. */
export function integerToNumber(text: string): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`not a safe integer: ${text}`);
  return n;
}

function booleanOf(text: string): boolean {
  if (text === 't' || text === 'true') return true;
  if (text === 'f' || text === 'false') return false;
  throw new Error(`not a boolean: ${JSON.stringify(text)}`);
}

function fieldValue(kind: TableSpec['fields'][number][1], text: string): unknown {
  switch (kind) {
    case 'long':
    case 'int':
      return integerToNumber(text);
    case 'decimal':
      return numericToDecimal(text);
    case 'timestamp':
      return timestamptzToMillis(text);
    case 'boolean':
      return booleanOf(text);
    default:
      return text;
  }
}

/**
 * The Avro value of one row image (column name → text or null), with `op` and `extracted_at`.
 * A missing column, or text that does not fit the field, is CDC_DECODE_FAILED: the table and
 * its schema have drifted apart, and publishing a wrong image would be worse than stopping.
 *
 * @example
 *   toRowImage(TABLE_SPECS.products, { product_id: '7', price: '12.30', ... }, 'u', Date.now())
 */
export function toRowImage(
  spec: TableSpec,
  tuple: Record<string, unknown>,
  op: CdcOp,
  extractedAt: number,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [name, kind] of spec.fields) {
    const raw = tuple[name];
    if (raw === undefined)
      throw new SluiceError('CDC_DECODE_FAILED', `${spec.table}.${name} is missing from the change (op ${op})`);
    try {
      value[name] = raw === null ? null : fieldValue(kind, String(raw));
    } catch (err) {
      throw new SluiceError('CDC_DECODE_FAILED', `${spec.table}.${name}: ${(err as Error).message}`, { cause: err });
    }
  }
  value.op = op;
  value.extracted_at = extractedAt;
  return value;
}

/** The Kafka key of a row image: its primary key as decimal text, as the extract writes it. */
export function keyOf(spec: TableSpec, tuple: Record<string, unknown>): string {
  const pk = tuple[spec.pk];
  if (pk === null || pk === undefined)
    throw new SluiceError('CDC_DECODE_FAILED', `${spec.table}: a change without its primary key ${spec.pk}`);
  return String(pk);
}
