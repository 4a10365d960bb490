import type { ClickEvent as GeneratedClickEvent } from '../../../domain/types.generated.ts';

/**
 * The vocabulary of the web clickstream: its topic, the kinds of message the generator mixes in
 * (valid and bad), the funnel's event types and the bounds the bad kinds are built against.
 */

/** The topic the clickstream is produced to by default. */
export const CLICKSTREAM_TOPIC = 'web.clickstream';

/** Records that fail to decode (SERDE_* errors), then records that decode but break a rule. */
export const CLICK_BAD_KINDS = [
  'bad_magic',
  'unknown_schema',
  'truncated',
  'trailing_bytes',
  'too_large',
  'hostile_length',
  'null_session',
  'price_out_of_range',
  'future_event_time',
  'unknown_product',
] as const;
/** One kind of bad record (see `CLICK_BAD_KINDS`). */
export type ClickBadKind = (typeof CLICK_BAD_KINDS)[number];

/** The funnel's steps, in funnel order. */
export const EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
] as const;
/** One funnel step (see `EVENT_TYPES`). */
export type EventType = (typeof EVENT_TYPES)[number];

/** Kind of each produced message: valid ones are `normal`, `duplicate`, `out_of_order` or `late`. */
export type ClickMessageKind = 'normal' | 'duplicate' | 'out_of_order' | 'late' | ClickBadKind;

/** Schema id written by `unknown_schema` records (valid framing, an id no registry has handed out). */
export const UNKNOWN_SCHEMA_ID = 999_999;
/** Crafted string length: zigzag varint of 2^31 - 1, far beyond any buffer (`hostile_length`). */
export const HOSTILE_LENGTH_PREFIX = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]);
/** Out-of-order events are 1–10 s before their session's latest event; late ones 2–30 min. */
export const OUT_OF_ORDER_MS = [1_000, 10_000] as const;
export const LATE_MS = [120_000, 1_800_000] as const;
/** Price range the rules accept (inclusive); `price_out_of_range` records fall outside it. */
export const PRICE_RANGE = { min: 0, max: 100_000 } as const;
/** `future_event_time` records are this far ahead of the stream's clock. */
export const FUTURE_MS = 86_400_000;

/** A click event as the schema defines it (generated from schemas/web.clickstream.avsc). */
export type ClickEvent = GeneratedClickEvent;

/** One generated message: the bytes to produce and what kind of record they are. */
export interface ClickMessage {
  key: Buffer | null;
  value: Buffer;
  kind: ClickMessageKind;
  /** Funnel step of valid, non-duplicate events. */
  eventType?: EventType;
}

/** A product of the catalogue: its id and shop price as a decimal string. */
export interface CatalogEntry {
  id: number;
  price: string;
}
