import { readFileSync } from 'node:fs';
import avro from 'avsc';

const PRODUCTLESS = new Set(['page_view', 'checkout_started']);

/**
 * The work every peer of the topology bench does per record, the core of Sluice's clickstream
 * topology: records over the size limit are dropped unread; the rest are decoded from the
 * Confluent wire format with the schema file (magic byte, 4-byte schema id, Avro binary, no
 * bytes left over); events without a session, or product events without a product, are
 * dropped; what is left is encoded again under its schema id. Bare loops skip what Sluice adds:
 * the registry, a DLQ, dedupe state, reference tables, metrics.
 *
 * @example
 *   const filter = clickFilter('schemas/web.clickstream.avsc', 65536);
 *   const out = filter(message.value); // Buffer to produce, or undefined to drop
 */
export function clickFilter(
  schemaFile: string,
  maxMessageBytes: number,
): (v: Buffer | null | undefined) => Buffer | undefined {
  const type = avro.Type.forSchema(JSON.parse(readFileSync(schemaFile, 'utf8')));
  return (v) => {
    if (!v || v.length > maxMessageBytes || v.length < 5 || v[0] !== 0) return undefined;
    let e: { session_id: string | null; event_type: string; product_id: number | null };
    try {
      const r = type.decode(v, 5);
      if (r.offset !== v.length) return undefined;
      e = r.value;
    } catch {
      return undefined;
    }
    if (e.session_id === null || (!PRODUCTLESS.has(e.event_type) && e.product_id === null)) return undefined;
    const body = type.toBuffer(e);
    const out = Buffer.allocUnsafe(5 + body.length);
    v.copy(out, 0, 0, 5);
    body.copy(out, 5);
    return out;
  };
}
