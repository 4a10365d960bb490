import { piiMark } from '../catalog/schemaFields.ts';
import { SluiceError } from '../core/errors.ts';
import type { StringMasker } from './maskValue.ts';
import { PII_KINDS, type PiiKind } from './piiPolicy.ts';

/** A field of a record schema marked as personal data. */
export interface PiiField {
  name: string;
  kind: PiiKind;
}

/**
 * The marked fields of an Avro record schema (`"sluice.pii"` on a top-level field). A mark that
 * is not one of PII_KINDS, or on a field that is not a plain string (`"string"` or
 * `["null", "string"]`), is PII_MARK_INVALID: masking must keep records valid against their
 * schema, and only a string can hold a hash, a redaction or a truncation.
 *
 * @example piiFields(loadSchema('oltp.customers')) // [{ name: 'email', kind: 'email' }, { name: 'full_name', ... }]
 */
export function piiFields(schema: unknown, schemaName = 'schema'): PiiField[] {
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) return [];
  const out: PiiField[] = [];
  for (const f of fields as Record<string, unknown>[]) {
    const mark = piiMark(f);
    if (mark === null) continue;
    const where = `${schemaName}: field ${String(f.name)}`;
    if (!(PII_KINDS as readonly string[]).includes(mark))
      throw new SluiceError('PII_MARK_INVALID', `${where} has "sluice.pii": ${JSON.stringify(f['sluice.pii'])}`, {
        details: { kinds: PII_KINDS },
      });
    if (!isStringType(f.type))
      throw new SluiceError('PII_MARK_INVALID', `${where} is marked ${mark} but is not a string or nullable string`);
    out.push({ name: String(f.name), kind: mark as PiiKind });
  }
  return out;
}

function isStringType(type: unknown): boolean {
  if (type === 'string') return true;
  if (Array.isArray(type)) return type.length === 2 && type.includes('null') && type.includes('string');
  return false;
}

/**
 * A copy of `record` with each marked field masked; null (and absent) values stay as they are,
 * unmarked fields are untouched, and the input is never modified.
 *
 * @example maskRecord({ email: 'a@b.c', country: 'DE' }, [{ name: 'email', kind: 'email' }], stringMasker('redact'))
 */
export function maskRecord<T>(record: T, fields: readonly PiiField[], mask: StringMasker): T {
  if (!fields.length || record === null || typeof record !== 'object') return record;
  const out = { ...(record as Record<string, unknown>) };
  for (const { name, kind } of fields) {
    const v = out[name];
    if (typeof v === 'string') out[name] = mask(kind, v);
  }
  return out as T;
}

/** The names of the top-level fields of a record schema that carry a `sluice.pii` mark, valid or not. */
export function markedFieldNames(schema: unknown): string[] {
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.filter((f: Record<string, unknown>) => piiMark(f) !== null).map((f) => String(f.name));
}
