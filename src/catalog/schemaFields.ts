import type { CatalogField } from './catalogEntry.ts';

/**
 * The fields of an Avro record schema for the catalog: name, a readable type, the doc, and the
 * `sluice.pii` mark (issue 14, item 1: a field property naming the kind of personal data). A
 * schema without marks reports none: nothing is guessed from field names.
 *
 * @example schemaFields(loadSchema('oltp.orders'))[0] // { name: 'order_id', type: 'long', doc: '...', pii: null }
 */
export function schemaFields(schema: unknown): CatalogField[] {
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.map((f: Record<string, unknown>) => ({
    name: String(f.name),
    type: avroTypeLabel(f.type),
    ...(typeof f.doc === 'string' ? { doc: f.doc } : {}),
    pii: piiMark(f),
  }));
}

/** The field's `sluice.pii` value; a mark that is not a string is reported as `invalid`, not dropped. */
export function piiMark(field: Record<string, unknown>): string | null {
  const mark = field['sluice.pii'];
  if (mark === undefined || mark === null) return null;
  return typeof mark === 'string' && mark ? mark : 'invalid';
}

/**
 * An Avro type in a few characters: primitives and named references as they are, unions joined
 * with `|`, logical types by name (`decimal(12,2)`, `timestamp-millis`), enums with their symbols.
 *
 * @example avroTypeLabel(['null', 'string']) // 'null | string'
 */
export function avroTypeLabel(type: unknown): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.map(avroTypeLabel).join(' | ');
  if (!type || typeof type !== 'object') return String(type);
  const t = type as Record<string, unknown>;
  if (t.logicalType === 'decimal') return `decimal(${t.precision},${t.scale ?? 0})`;
  if (typeof t.logicalType === 'string') return t.logicalType;
  switch (t.type) {
    case 'enum':
      return `enum(${(t.symbols as string[]).join(', ')})`;
    case 'array':
      return `array<${avroTypeLabel(t.items)}>`;
    case 'map':
      return `map<${avroTypeLabel(t.values)}>`;
    case 'record':
    case 'fixed':
      return `${t.type} ${String(t.name)}`;
    default:
      return avroTypeLabel(t.type);
  }
}
