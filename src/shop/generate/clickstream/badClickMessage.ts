import { frame } from '../../../serde/wireFormat.ts';
import type { Rng } from '../random.ts';
import type { ClickFunnel, Session } from './clickFunnel.ts';
import {
  FUTURE_MS,
  HOSTILE_LENGTH_PREFIX,
  PRICE_RANGE,
  UNKNOWN_SCHEMA_ID,
  type ClickBadKind,
  type ClickEvent,
  type ClickMessage,
} from './clickMessage.ts';

/** What a bad record is built from: the stream's randomness, encoder and limits. */
export interface BadClickContext {
  rng: Rng;
  funnel: ClickFunnel;
  /** Encodes an event in the wire format, under the stream's schema id unless another is given. */
  encode(e: ClickEvent, schemaId?: number): Buffer;
  schemaId: number;
  maxMessageBytes: number;
  /** Every id in the catalogue (also those priced outside the accepted range). */
  catalogIds: ReadonlySet<number>;
  maxCatalogId: number;
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextU32() & 0xff;
  return b;
}

/**
 * A record of a bad `kind` for session `s` at time `t`: bytes that fail to decode (the SERDE_*
 * kinds) or an event that decodes but breaks a rule.
 */
export function badClickMessage(ctx: BadClickContext, kind: ClickBadKind, s: Session, t: number): ClickMessage {
  const { rng, encode } = ctx;
  const e = ctx.funnel.looseEvent(s, t);
  switch (kind) {
    case 'bad_magic': // a JSON producer wrote to the topic
      return { key: s.key, value: Buffer.from(JSON.stringify(e), 'utf8'), kind };
    case 'unknown_schema':
      return { key: s.key, value: encode(e, UNKNOWN_SCHEMA_ID), kind };
    case 'truncated': {
      const full = encode(e);
      return { key: s.key, value: Buffer.from(full.subarray(0, rng.int(6, full.length - 1))), kind };
    }
    case 'trailing_bytes':
      return { key: s.key, value: Buffer.concat([encode(e), randomBytes(rng, rng.int(1, 16))]), kind };
    case 'too_large':
      return { key: s.key, value: tooLarge(ctx, e), kind };
    case 'hostile_length':
      return {
        key: s.key,
        value: frame(ctx.schemaId, Buffer.concat([HOSTILE_LENGTH_PREFIX, randomBytes(rng, rng.int(8, 40))])),
        kind,
      };
    case 'null_session':
      return { key: null, value: encode({ ...e, session_id: null }), kind };
    case 'price_out_of_range':
      return { key: s.key, value: encode(priceOutOfRange(ctx, e)), kind };
    case 'future_event_time':
      return { key: s.key, value: encode({ ...e, event_time: t + FUTURE_MS }), kind };
    case 'unknown_product': {
      let id = ctx.maxCatalogId + 1_000_000 + rng.int(0, 1_000_000);
      while (ctx.catalogIds.has(id)) id++;
      Object.assign(e, { product_id: id, page_url: `/p/${id}` });
      return { key: s.key, value: encode(e), kind };
    }
  }
}

/** The event with its user agent padded until the encoded value is a little over the size limit. */
function tooLarge({ rng, encode, maxMessageBytes }: BadClickContext, e: ClickEvent): Buffer {
  const over = rng.int(1, 4096);
  const base = encode({ ...e, user_agent: '' }).length;
  // The string's length varint grows by a few bytes with its size; the value ends up >= max + over.
  e.user_agent = `${e.user_agent} `
    .repeat(Math.ceil((maxMessageBytes - base + over) / ((e.user_agent?.length ?? 0) + 1)))
    .slice(0, maxMessageBytes - base + over);
  return encode(e);
}

function priceOutOfRange({ rng, funnel }: BadClickContext, e: ClickEvent): ClickEvent {
  const p = funnel.pickProduct();
  const price = rng.chance(0.5)
    ? `-${rng.int(1, 999)}.${String(rng.int(0, 99)).padStart(2, '0')}`
    : `${rng.int(PRICE_RANGE.max + 1, 9_999_999)}.00`;
  return Object.assign(e, { event_type: 'add_to_cart', product_id: p.id, quantity: 1, price, page_url: `/p/${p.id}` });
}
