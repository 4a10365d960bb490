import { isSluiceError } from '../../src/core/errors.ts';
import type { AvroSerde } from '../../src/serde/avroSerde.ts';

/**
 * Classifies clickstream records the way a consumer sees them — decoding each value with the
 * hardened serde and checking the rules — independently of how the generator labelled them.
 * Records must be given in partition order (a session's records share a partition).
 */

export interface ClassifiedCounts {
  total: number;
  valid: number;
  duplicates: number;
  outOfOrder: number;
  late: number;
  bad: Record<string, number>;
  eventTypes: Record<string, number>;
}

const SERDE_KINDS: Record<string, string> = {
  SERDE_BAD_MAGIC: 'bad_magic',
  SERDE_UNKNOWN_SCHEMA: 'unknown_schema',
  SERDE_TRUNCATED: 'truncated',
  SERDE_TRAILING_BYTES: 'trailing_bytes',
  SERDE_TOO_LARGE: 'too_large',
  SERDE_HOSTILE_LENGTH: 'hostile_length',
};

interface Click {
  event_id: string;
  event_type: string;
  session_id: string | null;
  event_time: number;
  product_id: number | null;
  price: string | null;
}

export interface ClassifyContext {
  serde: AvroSerde;
  catalog: ReadonlySet<number>;
  /** Event times after this are "in the future" for the stream. */
  futureAfter: number;
  /** Older than the session's latest event by more than this: late (else out of order). */
  lateAfterMs?: number;
}

export function newClassifier(ctx: ClassifyContext) {
  const counts: ClassifiedCounts = {
    total: 0,
    valid: 0,
    duplicates: 0,
    outOfOrder: 0,
    late: 0,
    bad: {},
    eventTypes: {},
  };
  const seen = new Set<string>();
  const sessionMax = new Map<string, number>();
  const lateAfter = ctx.lateAfterMs ?? 60_000;
  const bad = (kind: string) => {
    counts.bad[kind] = (counts.bad[kind] ?? 0) + 1;
  };

  async function add(key: Buffer | null, value: Buffer | null): Promise<void> {
    counts.total++;
    let v: Click;
    try {
      v = (await ctx.serde.decode(value)).value as Click;
    } catch (err) {
      const kind = isSluiceError(err) ? SERDE_KINDS[err.shortCode] : undefined;
      if (!kind) throw err;
      bad(kind);
      return;
    }
    if (v.session_id === null) return bad('null_session');
    if (key === null || key.toString('utf8') !== v.session_id)
      throw new Error(`record key ${key} is not its session id ${v.session_id}`);
    if (v.price !== null && (Number(v.price) < 0 || Number(v.price) > 100_000)) return bad('price_out_of_range');
    if (v.event_time > ctx.futureAfter) return bad('future_event_time');
    if (v.product_id !== null && !ctx.catalog.has(v.product_id)) return bad('unknown_product');
    counts.valid++;
    if (seen.has(v.event_id)) {
      counts.duplicates++;
      return;
    }
    seen.add(v.event_id);
    counts.eventTypes[v.event_type] = (counts.eventTypes[v.event_type] ?? 0) + 1;
    const max = sessionMax.get(v.session_id);
    if (max !== undefined && v.event_time < max) {
      if (max - v.event_time > lateAfter) counts.late++;
      else counts.outOfOrder++;
    } else {
      sessionMax.set(v.session_id, v.event_time);
    }
  }

  return { add, counts };
}
