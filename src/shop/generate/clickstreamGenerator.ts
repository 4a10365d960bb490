import type { ClickEvent as GeneratedClickEvent } from '../../domain/types.generated.ts';
import { writeFileSync } from 'node:fs';
import type { Config } from '../../config/config.ts';
import { SluiceError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import avro from 'avsc';
import { loadSchema, subjectFor } from '../../domain/schemas.ts';
import { DecimalType } from '../../serde/logicalTypes.ts';
import { createKafkaClient } from '../../kafka/createKafkaClient.ts';
import { ensureTopics } from '../../kafka/ensureTopics.ts';
import type { Message } from '../../kafka/kafkaTypes.ts';
import { connectOltp, type OltpTarget } from '../oltp/oltpDdl.ts';
import { createRegistryClient } from '../../serde/schemaRegistry.ts';
import { frame } from '../../serde/wireFormat.ts';
import { createRng, WeightedSampler, ZipfSampler, type Rng, type Seed } from './random.ts';
import { formatRate, sleep, startProgress, TokenBucket } from './pacing.ts';

/**
 * The web shop's clickstream: Avro events in the Confluent wire format on `web.clickstream`,
 * keyed by session id. Sessions walk the funnel page_view → product_view → add_to_cart
 * (→ remove_from_cart) → checkout_started → purchase with drop-off at every step. Mixed in, at
 * known rates: out-of-order and late events, exact duplicates, and bad records of every kind the
 * engine must route to the DLQ. Everything is a pure function of the seed and base time, and the
 * generator counts exactly what it produced: the ground truth tests compare against.
 */

const log = createLogger('generate.clickstream');

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
export type ClickBadKind = (typeof CLICK_BAD_KINDS)[number];

export const EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout_started',
  'purchase',
] as const;
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

export interface ClickMessage {
  key: Buffer | null;
  value: Buffer;
  kind: ClickMessageKind;
  /** Funnel step of valid, non-duplicate events. */
  eventType?: EventType;
}

export interface ClickstreamCounts {
  /** Every message produced. */
  total: number;
  /** Messages that decode and break no rule: total minus every bad kind (duplicates, out-of-order and late included). */
  valid: number;
  /** Exact re-sends (same key and value bytes) of an earlier valid message. */
  duplicates: number;
  /** Valid events 1–10 s older than their session's latest earlier event. */
  outOfOrder: number;
  /** Valid events 2–30 min older than their session's latest earlier event. */
  late: number;
  bad: Record<ClickBadKind, number>;
  /** Valid events by type, duplicates excluded. */
  eventTypes: Record<EventType, number>;
}

export function emptyClickstreamCounts(): ClickstreamCounts {
  return {
    total: 0,
    valid: 0,
    duplicates: 0,
    outOfOrder: 0,
    late: 0,
    bad: Object.fromEntries(CLICK_BAD_KINDS.map((k) => [k, 0])) as Record<ClickBadKind, number>,
    eventTypes: Object.fromEntries(EVENT_TYPES.map((k) => [k, 0])) as Record<EventType, number>,
  };
}

/** Adds one message of `kind` (and its event type, for valid non-duplicates) to the counts. */
export function tally(c: ClickstreamCounts, { kind, eventType }: Pick<ClickMessage, 'kind' | 'eventType'>): void {
  c.total++;
  if ((CLICK_BAD_KINDS as readonly string[]).includes(kind)) {
    c.bad[kind as ClickBadKind]++;
    return;
  }
  c.valid++;
  if (kind === 'duplicate') {
    c.duplicates++;
    return;
  }
  if (kind === 'out_of_order') c.outOfOrder++;
  else if (kind === 'late') c.late++;
  if (eventType) c.eventTypes[eventType]++;
}

export interface CatalogEntry {
  id: number;
  price: string;
}

export interface ClickstreamEventOptions {
  /** Registered id of the click event schema (written into every well-framed record). */
  schemaId: number;
  /** Product catalogue (ids and shop prices as decimal strings). */
  products: readonly CatalogEntry[];
  /** Customers that can log in; empty: everyone is anonymous. */
  customerIds?: readonly number[];
  seed?: Seed;
  /** Epoch ms of the first event; the stream's clock advances 1000/rate ms per message. */
  baseTime: number;
  /** Messages per second of the event-time clock (default 100; the real rate limit is separate). */
  rate?: number;
  badRatio?: number;
  duplicateRatio?: number;
  outOfOrderRatio?: number;
  lateRatio?: number;
  /** Share of sessions logged in from the start (more log in at checkout). */
  loggedInRatio?: number;
  /** Concurrent sessions the events interleave from. */
  concurrentSessions?: number;
  /** The value size limit: `too_large` records are a little over it. */
  maxMessageBytes: number;
}

type Stage = 'landing' | 'browsing' | 'cart' | 'checkout' | 'purchased';

interface Session {
  id: string;
  key: Buffer;
  customerId: number | null;
  userAgent: string;
  stage: Stage;
  /** Latest event time of a normal event in this session. */
  maxTime: number | undefined;
  lastProduct: CatalogEntry | undefined;
  cart: Map<number, { product: CatalogEntry; qty: number }>;
}

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
];
const UA_SAMPLER = new WeightedSampler(USER_AGENTS, [30, 14, 24, 18, 4, 10]);
const LANDING_PAGES = [
  '/',
  '/',
  '/',
  '/deals',
  '/new',
  '/category/electronics',
  '/category/clothing',
  '/category/home',
  '/category/books',
  '/search?q=gift',
  '/search?q=headphones',
  '/blog/summer-sale',
];

/** Next step of the funnel after `stage`, or null when the visitor leaves. */
const NEXT: Record<Stage, WeightedSampler<EventType | null>> = {
  landing: new WeightedSampler<EventType | null>(['page_view', 'product_view', null], [25, 55, 20]),
  browsing: new WeightedSampler<EventType | null>(['product_view', 'add_to_cart', 'page_view', null], [42, 24, 12, 22]),
  cart: new WeightedSampler<EventType | null>(
    ['product_view', 'add_to_cart', 'remove_from_cart', 'checkout_started', null],
    [28, 10, 10, 34, 18],
  ),
  checkout: new WeightedSampler<EventType | null>(['purchase', 'product_view', null], [64, 8, 28]),
  purchased: new WeightedSampler<EventType | null>([null], [1]),
};

/**
 * avsc picks the branch of a `["null", decimal]` union by calling the decimal's `_toValue` on the
 * value; Sluice's DecimalType throws for null, and an exception per null price made encoding ~10×
 * slower. Returning undefined says "not this branch" without throwing. Same bytes on the wire.
 */
class EncodeOnlyDecimal extends DecimalType {
  protected override _toValue(any: unknown): Buffer {
    if (typeof any !== 'string') return undefined as unknown as Buffer;
    return super._toValue(any);
  }
}

let clickType: avro.Type | undefined;
/** The click event type used for writing (the schema in `schemas/web.clickstream.avsc`). */
function clickWriterType(): avro.Type {
  clickType ??= avro.Type.forSchema(loadSchema(CLICKSTREAM_TOPIC), {
    wrapUnions: false,
    logicalTypes: { decimal: EncodeOnlyDecimal },
  });
  return clickType;
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextU32() & 0xff;
  return b;
}

/**
 * The message stream for a seed, without end (take as many as you need). Each message comes with
 * its kind; keys and values are byte-identical for the same options.
 */
export function* clickstreamMessages(opts: ClickstreamEventOptions): Generator<ClickMessage> {
  if (!opts.products.length)
    throw new SluiceError(
      'CLI_USAGE',
      'the clickstream needs a product catalogue; seed the OLTP database first (sluice generate oltp --customers N --products N --orders N)',
    );
  const type = clickWriterType();
  const rng = createRng(opts.seed ?? 42).fork('clickstream');
  const rate = opts.rate && Number.isFinite(opts.rate) && opts.rate > 0 ? opts.rate : 100;
  const badRatio = clamp01(opts.badRatio ?? 0);
  const duplicateRatio = clamp01(opts.duplicateRatio ?? 0.01);
  const outOfOrderRatio = clamp01(opts.outOfOrderRatio ?? 0.02);
  const lateRatio = clamp01(opts.lateRatio ?? 0.005);
  const loggedInRatio = clamp01(opts.loggedInRatio ?? 0.35);
  const concurrency = Math.max(1, opts.concurrentSessions ?? 40);
  const customers = opts.customerIds ?? [];
  // Valid events only show prices the rules accept; every catalogue id still counts as known.
  const inRange = opts.products.filter((p) => Number(p.price) >= PRICE_RANGE.min && Number(p.price) <= PRICE_RANGE.max);
  if (!inRange.length)
    throw new SluiceError(
      'CLI_USAGE',
      `no product in the catalogue has a price within ${PRICE_RANGE.min}..${PRICE_RANGE.max}`,
    );
  const products = rng.shuffled(inRange); // popularity order
  const popularity = new ZipfSampler(products.length, 1.07);
  const catalogIds = new Set(opts.products.map((p) => p.id));
  const maxCatalogId = opts.products.reduce((m, p) => Math.max(m, p.id), 0);
  const sessions: Session[] = [];
  const recent: ClickMessage[] = []; // valid messages a duplicate can repeat
  let orderSeq = 0;
  let step = 0;

  const encode = (e: ClickEvent, schemaId = opts.schemaId) => frame(schemaId, type.toBuffer(e));
  const pickProduct = () => products[popularity.sample(rng)];

  function newSession(): Session {
    const id = rng.uuid();
    return {
      id,
      key: Buffer.from(id, 'utf8'),
      customerId: customers.length && rng.chance(loggedInRatio) ? rng.pick(customers) : null,
      userAgent: UA_SAMPLER.sample(rng),
      stage: 'landing',
      maxTime: undefined,
      lastProduct: undefined,
      cart: new Map(),
    };
  }

  function baseEvent(s: Session | null, t: number, type: EventType): ClickEvent {
    return {
      event_id: rng.uuid(),
      event_type: type,
      session_id: s?.id ?? null,
      customer_id: s?.customerId ?? null,
      event_time: t,
      page_url: null,
      product_id: null,
      quantity: null,
      price: null,
      order_id: null,
      user_agent: s?.userAgent ?? UA_SAMPLER.sample(rng),
    };
  }

  /** The session's next funnel event (advancing its state), at time t. */
  function funnelEvent(s: Session, t: number, type: EventType): ClickEvent {
    const e = baseEvent(s, t, type);
    switch (type) {
      case 'page_view':
        e.page_url = rng.pick(LANDING_PAGES);
        break;
      case 'product_view': {
        const p = pickProduct();
        s.lastProduct = p;
        e.product_id = p.id;
        e.page_url = `/p/${p.id}`;
        if (s.stage === 'landing') s.stage = 'browsing';
        break;
      }
      case 'add_to_cart': {
        const p = s.lastProduct ?? pickProduct();
        const qty = rng.weighted([1, 2, 3], [80, 15, 5]);
        const line = s.cart.get(p.id);
        s.cart.set(p.id, { product: p, qty: (line?.qty ?? 0) + qty });
        Object.assign(e, { product_id: p.id, quantity: qty, price: p.price, page_url: `/p/${p.id}` });
        s.stage = 'cart';
        break;
      }
      case 'remove_from_cart': {
        const lines = [...s.cart.values()];
        const line = rng.pick(lines);
        const qty = rng.int(1, line.qty);
        if (qty === line.qty) s.cart.delete(line.product.id);
        else line.qty -= qty;
        Object.assign(e, { product_id: line.product.id, quantity: qty, price: line.product.price, page_url: '/cart' });
        if (s.cart.size === 0) s.stage = 'browsing';
        break;
      }
      case 'checkout_started':
        // Many visitors log in (or create an account) at checkout.
        if (s.customerId === null && customers.length && rng.chance(0.5)) s.customerId = rng.pick(customers);
        e.customer_id = s.customerId;
        e.page_url = '/checkout';
        s.stage = 'checkout';
        break;
      case 'purchase': {
        const first = s.cart.values().next().value;
        e.product_id = first?.product.id ?? null;
        e.order_id = 900_000_000 + ++orderSeq;
        e.page_url = '/checkout/confirmation';
        s.stage = 'purchased';
        break;
      }
    }
    return e;
  }

  function nextType(s: Session): EventType | null {
    for (let i = 0; i < 4; i++) {
      const t = NEXT[s.stage].sample(rng);
      if (t === 'remove_from_cart' && s.cart.size === 0) continue;
      if (t === 'checkout_started' && s.cart.size === 0) continue;
      return t;
    }
    return null;
  }

  /** A well-formed event unrelated to session state, as raw material for bad records. */
  function looseEvent(s: Session, t: number): ClickEvent {
    const p = pickProduct();
    const e = baseEvent(s, t, 'product_view');
    e.product_id = p.id;
    e.page_url = `/p/${p.id}`;
    return e;
  }

  function badMessage(kind: ClickBadKind, s: Session, t: number): ClickMessage {
    const e = looseEvent(s, t);
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
      case 'too_large': {
        const over = rng.int(1, 4096);
        const base = encode({ ...e, user_agent: '' }).length;
        // The string's length varint grows by a few bytes with its size; the value ends up >= max + over.
        e.user_agent = `${e.user_agent} `
          .repeat(Math.ceil((opts.maxMessageBytes - base + over) / ((e.user_agent?.length ?? 0) + 1)))
          .slice(0, opts.maxMessageBytes - base + over);
        return { key: s.key, value: encode(e), kind };
      }
      case 'hostile_length':
        return {
          key: s.key,
          value: frame(opts.schemaId, Buffer.concat([HOSTILE_LENGTH_PREFIX, randomBytes(rng, rng.int(8, 40))])),
          kind,
        };
      case 'null_session': {
        const n = { ...e, session_id: null };
        return { key: null, value: encode(n), kind };
      }
      case 'price_out_of_range': {
        const p = pickProduct();
        const price = rng.chance(0.5)
          ? `-${rng.int(1, 999)}.${String(rng.int(0, 99)).padStart(2, '0')}`
          : `${rng.int(PRICE_RANGE.max + 1, 9_999_999)}.00`;
        Object.assign(e, { event_type: 'add_to_cart', product_id: p.id, quantity: 1, price, page_url: `/p/${p.id}` });
        return { key: s.key, value: encode(e), kind };
      }
      case 'future_event_time':
        return { key: s.key, value: encode({ ...e, event_time: t + FUTURE_MS }), kind };
      case 'unknown_product': {
        let id = maxCatalogId + 1_000_000 + rng.int(0, 1_000_000);
        while (catalogIds.has(id)) id++;
        Object.assign(e, { product_id: id, page_url: `/p/${id}` });
        return { key: s.key, value: encode(e), kind };
      }
    }
  }

  for (;;) {
    const clock = opts.baseTime + Math.floor((step++ * 1000) / rate);
    while (sessions.length < concurrency) sessions.push(newSession());
    const idx = rng.int(0, sessions.length - 1);
    let s = sessions[idx];
    let msg: ClickMessage;
    let eventType: EventType | undefined;

    if (rng.chance(badRatio)) {
      msg = badMessage(rng.pick(CLICK_BAD_KINDS), s, clock);
    } else if (recent.length && rng.chance(duplicateRatio)) {
      const orig = rng.pick(recent);
      msg = { key: orig.key, value: orig.value, kind: 'duplicate' };
    } else {
      let type = s.maxTime === undefined ? 'page_view' : nextType(s);
      if (type === null) {
        // The visitor left; a new one arrives in their place.
        s = sessions[idx] = newSession();
        type = 'page_view';
      }
      let kind: ClickMessageKind = 'normal';
      let t = Math.max(clock + rng.int(0, 250), s.maxTime ?? 0);
      if (s.maxTime !== undefined) {
        if (rng.chance(outOfOrderRatio)) {
          kind = 'out_of_order';
          t = s.maxTime - rng.int(OUT_OF_ORDER_MS[0], OUT_OF_ORDER_MS[1]);
        } else if (rng.chance(lateRatio)) {
          kind = 'late';
          t = s.maxTime - rng.int(LATE_MS[0], LATE_MS[1]);
        }
      }
      if (kind === 'normal') s.maxTime = t;
      const e = funnelEvent(s, t, type);
      eventType = type;
      msg = { key: s.key, value: encode(e), kind, eventType };
      recent.push(msg);
      if (recent.length > 64) recent.shift();
    }
    yield msg;
  }
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}

/** The first `count` messages for the options, and their exact counts. Pure: no I/O. */
export function buildClickstreamEvents(opts: ClickstreamEventOptions & { count: number }): {
  messages: ClickMessage[];
  counts: ClickstreamCounts;
} {
  const counts = emptyClickstreamCounts();
  const messages: ClickMessage[] = [];
  if (opts.count <= 0) return { messages, counts };
  for (const m of clickstreamMessages(opts)) {
    messages.push(m);
    tally(counts, m);
    if (messages.length >= opts.count) break;
  }
  return { messages, counts };
}

// ---------------------------------------------------------------------------------------------

export interface GenerateClickstreamOptions {
  /** Messages per second; 0 or Infinity: as fast as the broker takes them. */
  rate: number;
  durationMs?: number;
  count?: number;
  badRatio?: number;
  seed?: Seed;
  topic?: string;
  /** Product ids of the catalogue; read from the OLTP database when not given. */
  productIds?: readonly number[];
  /** Shop prices by product id (decimal strings); derived from the id when not given. */
  productPrices?: ReadonlyMap<number, string>;
  /** Customers who can log in; read from the OLTP database when not given. */
  customerIds?: readonly number[];
  /** OLTP database to read the catalogue from (default cfg.oltpDatabase). */
  database?: OltpTarget;
  groundTruthFile?: string;
  /** Epoch ms of the first event; default now. */
  baseTime?: number;
  duplicateRatio?: number;
  outOfOrderRatio?: number;
  lateRatio?: number;
  loggedInRatio?: number;
  /** Messages per produce request (default 500). */
  batchSize?: number;
  signal?: AbortSignal;
  progress?: boolean;
  /** Print the counts to stdout at the end (default true). */
  print?: boolean;
}

export interface ClickstreamResult extends ClickstreamCounts {
  topic: string;
  schemaId: number;
  seed: string;
  baseTime: number;
  elapsedMs: number;
  eventsPerSecond: number;
  aborted: boolean;
}

/** A price for a product id when only ids are known: stable, shop-like (4.99 … 499.99). */
export function syntheticPrice(id: number): string {
  const r = createRng(`price/${id}`);
  return `${Math.floor(Math.exp(r.float(Math.log(4), Math.log(500))))}.${r.pick(['99', '49', '95', '00'])}`;
}

async function loadCatalog(
  cfg: Config,
  opts: GenerateClickstreamOptions,
): Promise<{ products: CatalogEntry[]; customerIds: number[] }> {
  let products: CatalogEntry[] | undefined = opts.productIds?.map((id) => ({
    id,
    price: opts.productPrices?.get(id) ?? syntheticPrice(id),
  }));
  let customerIds = opts.customerIds ? [...opts.customerIds] : undefined;
  if (!products || !customerIds) {
    const client = await connectOltp(cfg, opts.database);
    try {
      if (!products) {
        products = (
          await client.query('select product_id, price from products where active order by product_id')
        ).rows.map((r) => ({ id: Number(r.product_id), price: String(r.price) }));
      }
      if (!customerIds) {
        customerIds = (await client.query('select customer_id from customers order by customer_id')).rows.map((r) =>
          Number(r.customer_id),
        );
      }
    } catch (err) {
      if (err instanceof SluiceError) throw err;
      throw new SluiceError(
        'PG_QUERY_FAILED',
        `reading the product catalogue: ${(err as Error).message} (seed the OLTP database first: sluice generate oltp --customers N --products N --orders N)`,
        { cause: err },
      );
    } finally {
      await client.end().catch(() => {});
    }
  }
  return { products, customerIds };
}

export function formatClickstreamCounts(c: ClickstreamCounts): string {
  const bad = CLICK_BAD_KINDS.map((k) => `${k}=${c.bad[k]}`).join(' ');
  return `total=${c.total} valid=${c.valid} duplicates=${c.duplicates} outOfOrder=${c.outOfOrder} late=${c.late}\nbad: ${bad}`;
}

/**
 * Produces the clickstream to Kafka (schema registered under `<topic>-value`) until `count`,
 * `durationMs` or the signal, rate-limited by a token bucket. Counts only what the broker
 * acknowledged; prints them, returns them and writes them to `groundTruthFile`.
 */
export async function generateClickstream(cfg: Config, opts: GenerateClickstreamOptions): Promise<ClickstreamResult> {
  const t0 = performance.now();
  const topic = opts.topic ?? CLICKSTREAM_TOPIC;
  const seed = String(opts.seed ?? 42);
  const baseTime = opts.baseTime ?? Date.now();
  const limit = opts.count ?? Infinity;
  if (limit === Infinity && opts.durationMs === undefined && !opts.signal) {
    throw new SluiceError('CLI_USAGE', 'generate clickstream needs --count or --duration (or a signal to stop it)');
  }
  const { products, customerIds } = await loadCatalog(cfg, opts);
  if (!products.length)
    throw new SluiceError(
      'CLI_USAGE',
      'no products in the OLTP catalogue: seed it first (sluice generate oltp --customers N --products N --orders N)',
    );

  const registry = createRegistryClient(cfg);
  const schemaId = await registry.register(subjectFor(topic), loadSchema(CLICKSTREAM_TOPIC));
  const kafka = createKafkaClient(cfg);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic }], {
      partitions: cfg.topicPartitions,
      replicationFactor: cfg.topicReplication,
    });
  } finally {
    await admin.disconnect();
  }

  const produced = emptyClickstreamCounts();
  const source = clickstreamMessages({
    schemaId,
    products,
    customerIds,
    seed,
    baseTime,
    rate: Number.isFinite(opts.rate) && opts.rate > 0 ? opts.rate : undefined,
    badRatio: opts.badRatio,
    duplicateRatio: opts.duplicateRatio,
    outOfOrderRatio: opts.outOfOrderRatio,
    lateRatio: opts.lateRatio,
    loggedInRatio: opts.loggedInRatio,
    maxMessageBytes: cfg.maxMessageBytes,
  });

  const producer = kafka.producer();
  await producer.connect();
  const progress = startProgress(
    (ms) => {
      const bad = CLICK_BAD_KINDS.reduce((s, k) => s + produced.bad[k], 0);
      return `clickstream → ${topic}: ${produced.total.toLocaleString('en')} events (${formatRate(produced.total, ms)}) · dup ${produced.duplicates} · late ${produced.late} · bad ${bad}`;
    },
    { enabled: opts.progress },
  );

  const batchSize = Math.max(1, opts.batchSize ?? 500);
  const maxBatchBytes = Math.max(4 << 20, cfg.maxMessageBytes * 2);
  const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 10));
  const deadline = opts.durationMs !== undefined ? performance.now() + opts.durationMs : Infinity;
  let generated = 0;
  let batch: Message[] = [];
  let batchMeta: ClickMessage[] = [];
  let batchBytes = 0;
  let lastFlush = performance.now();

  const flush = async () => {
    if (!batch.length) return;
    const messages = batch;
    const meta = batchMeta;
    batch = [];
    batchMeta = [];
    batchBytes = 0;
    try {
      await producer.send({ topic, messages, acks: -1, timeout: 30_000 });
    } catch (err) {
      throw new SluiceError('KAFKA_PRODUCE_FAILED', `producing to ${topic}: ${(err as Error).message}`, { cause: err });
    }
    // Counted once acknowledged: the ground truth is what the topic holds.
    for (const m of meta) tally(produced, m);
    lastFlush = performance.now();
  };

  try {
    while (generated < limit && !opts.signal?.aborted && performance.now() < deadline) {
      const n = bucket.take(Math.min(batchSize - batch.length, limit - generated));
      if (n === 0) {
        if (batch.length && performance.now() - lastFlush >= 100) await flush();
        else await sleep(Math.min(bucket.waitMs(), 100, Math.max(0, deadline - performance.now())), opts.signal);
        continue;
      }
      for (let i = 0; i < n; i++) {
        const m = source.next().value as ClickMessage;
        generated++;
        // Keep huge records from sharing a request with many others (the broker limits batch size).
        if (batchBytes + m.value.length > maxBatchBytes) await flush();
        batch.push({ key: m.key, value: m.value });
        batchMeta.push(m);
        batchBytes += m.value.length + (m.key?.length ?? 0);
      }
      if (batch.length >= batchSize || bucket.unlimited || performance.now() - lastFlush >= 100) await flush();
    }
    await flush();
  } finally {
    progress.stop(false);
    await producer.disconnect().catch(() => {});
  }

  const elapsedMs = Math.round(performance.now() - t0);
  const result: ClickstreamResult = {
    ...produced,
    topic,
    schemaId,
    seed,
    baseTime,
    elapsedMs,
    eventsPerSecond: Math.round((produced.total * 1000) / Math.max(1, elapsedMs)),
    aborted: Boolean(opts.signal?.aborted),
  };
  if (opts.groundTruthFile) writeFileSync(opts.groundTruthFile, `${JSON.stringify(result, null, 2)}\n`);
  if (opts.print ?? true) process.stdout.write(`${formatClickstreamCounts(result)}\n`);
  log.info({ topic, total: result.total, bad: result.bad, elapsedMs }, 'clickstream generated');
  return result;
}
