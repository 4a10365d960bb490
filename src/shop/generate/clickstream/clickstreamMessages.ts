import { SluiceError } from '../../../core/errors.ts';
import { frame } from '../../../serde/wireFormat.ts';
import { createRng, ZipfSampler, type Rng, type Seed } from '../random.ts';
import { badClickMessage, type BadClickContext } from './badClickMessage.ts';
import { ClickFunnel, type Session } from './clickFunnel.ts';
import {
  CLICK_BAD_KINDS,
  LATE_MS,
  OUT_OF_ORDER_MS,
  PRICE_RANGE,
  type CatalogEntry,
  type ClickEvent,
  type ClickMessage,
  type ClickMessageKind,
} from './clickMessage.ts';
import { emptyClickstreamCounts, tally, type ClickstreamCounts } from './clickstreamCounts.ts';
import { clickWriterType } from './clickWriterType.ts';

/**
 * The clickstream as a pure function of its options: sessions interleaved from a pool, with
 * out-of-order and late events, exact duplicates and bad records mixed in at known rates.
 */

/** What the message stream is made of; the same options give byte-identical messages. */
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

/** The options with their defaults applied and ratios clamped into [0, 1]. */
interface StreamSettings {
  rate: number;
  badRatio: number;
  duplicateRatio: number;
  outOfOrderRatio: number;
  lateRatio: number;
  concurrency: number;
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}

function settingsOf(opts: ClickstreamEventOptions): StreamSettings {
  return {
    rate: opts.rate && Number.isFinite(opts.rate) && opts.rate > 0 ? opts.rate : 100,
    badRatio: clamp01(opts.badRatio ?? 0),
    duplicateRatio: clamp01(opts.duplicateRatio ?? 0.01),
    outOfOrderRatio: clamp01(opts.outOfOrderRatio ?? 0.02),
    lateRatio: clamp01(opts.lateRatio ?? 0.005),
    concurrency: Math.max(1, opts.concurrentSessions ?? 40),
  };
}

/** Valid events only show prices the rules accept; every catalogue id still counts as known. */
function acceptedProducts(products: readonly CatalogEntry[]): CatalogEntry[] {
  if (!products.length)
    throw new SluiceError(
      'CLI_USAGE',
      'the clickstream needs a product catalogue; seed the OLTP database first ' +
        '(sluice generate oltp --customers N --products N --orders N)',
    );
  const inRange = products.filter((p) => Number(p.price) >= PRICE_RANGE.min && Number(p.price) <= PRICE_RANGE.max);
  if (!inRange.length)
    throw new SluiceError(
      'CLI_USAGE',
      `no product in the catalogue has a price within ${PRICE_RANGE.min}..${PRICE_RANGE.max}`,
    );
  return inRange;
}

/** The stream's state: its seeded Rng, the funnel, the session pool and recent valid messages. */
class ClickStream {
  private readonly settings: StreamSettings;
  private readonly rng: Rng;
  private readonly funnel: ClickFunnel;
  private readonly bad: BadClickContext;
  private readonly sessions: Session[] = [];
  /** Valid messages a duplicate can repeat. */
  private readonly recent: ClickMessage[] = [];
  private step = 0;
  private readonly opts: ClickstreamEventOptions;

  constructor(opts: ClickstreamEventOptions) {
    this.opts = opts;
    const inRange = acceptedProducts(opts.products);
    const type = clickWriterType();
    this.settings = settingsOf(opts);
    this.rng = createRng(opts.seed ?? 42).fork('clickstream');
    const products = this.rng.shuffled(inRange); // popularity order
    this.funnel = new ClickFunnel(this.rng, {
      products,
      popularity: new ZipfSampler(products.length, 1.07),
      customers: opts.customerIds ?? [],
      loggedInRatio: clamp01(opts.loggedInRatio ?? 0.35),
    });
    this.bad = {
      rng: this.rng,
      funnel: this.funnel,
      encode: (e: ClickEvent, schemaId = opts.schemaId) => frame(schemaId, type.toBuffer(e)),
      schemaId: opts.schemaId,
      maxMessageBytes: opts.maxMessageBytes,
      catalogIds: new Set(opts.products.map((p) => p.id)),
      maxCatalogId: opts.products.reduce((m, p) => Math.max(m, p.id), 0),
    };
  }

  /** The next message: bad, a duplicate, or a session's next funnel event. */
  next(): ClickMessage {
    const { rng, settings, sessions, recent } = this;
    const clock = this.opts.baseTime + Math.floor((this.step++ * 1000) / settings.rate);
    while (sessions.length < settings.concurrency) sessions.push(this.funnel.newSession());
    const idx = rng.int(0, sessions.length - 1);
    if (rng.chance(settings.badRatio))
      return badClickMessage(this.bad, rng.pick(CLICK_BAD_KINDS), sessions[idx], clock);
    if (recent.length && rng.chance(settings.duplicateRatio)) {
      const orig = rng.pick(recent);
      return { key: orig.key, value: orig.value, kind: 'duplicate' };
    }
    const msg = this.validMessage(idx, clock);
    recent.push(msg);
    if (recent.length > 64) recent.shift();
    return msg;
  }

  /** Session `idx`'s next funnel event (a new visitor when it left), maybe out of order or late. */
  private validMessage(idx: number, clock: number): ClickMessage {
    const { rng, funnel, settings } = this;
    let s = this.sessions[idx];
    let type = s.maxTime === undefined ? 'page_view' : funnel.nextType(s);
    if (type === null) {
      // The visitor left; a new one arrives in their place.
      s = this.sessions[idx] = funnel.newSession();
      type = 'page_view';
    }
    let kind: ClickMessageKind = 'normal';
    let t = Math.max(clock + rng.int(0, 250), s.maxTime ?? 0);
    if (s.maxTime !== undefined) {
      if (rng.chance(settings.outOfOrderRatio)) {
        kind = 'out_of_order';
        t = s.maxTime - rng.int(OUT_OF_ORDER_MS[0], OUT_OF_ORDER_MS[1]);
      } else if (rng.chance(settings.lateRatio)) {
        kind = 'late';
        t = s.maxTime - rng.int(LATE_MS[0], LATE_MS[1]);
      }
    }
    if (kind === 'normal') s.maxTime = t;
    const e = funnel.funnelEvent(s, t, type);
    return { key: s.key, value: this.bad.encode(e), kind, eventType: type };
  }
}

/**
 * The message stream for a seed, without end (take as many as you need). Each message comes with
 * its kind; keys and values are byte-identical for the same options.
 */
export function* clickstreamMessages(opts: ClickstreamEventOptions): Generator<ClickMessage> {
  const stream = new ClickStream(opts);
  for (;;) yield stream.next();
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
