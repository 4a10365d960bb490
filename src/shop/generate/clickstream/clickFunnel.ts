import { type Rng, WeightedSampler, type ZipfSampler } from '../random.ts';
import type { CatalogEntry, ClickEvent, EventType } from './clickMessage.ts';

/**
 * Visitor sessions walking the shop funnel page_view → product_view → add_to_cart
 * (→ remove_from_cart) → checkout_started → purchase, with drop-off at every step. Every choice
 * comes from the one seeded Rng, in a fixed order, so the same seed walks the same sessions.
 */

type Stage = 'landing' | 'browsing' | 'cart' | 'checkout' | 'purchased';

/** One visitor's state between events. */
export interface Session {
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
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
    'Version/17.5 Mobile/15E148 Safari/604.1',
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

/** Where the funnel draws its products and visitors from. */
export interface FunnelSources {
  /** Products in popularity order (rank 0 the most popular). */
  products: readonly CatalogEntry[];
  popularity: ZipfSampler;
  /** Customers that can log in; empty: everyone is anonymous. */
  customers: readonly number[];
  /** Share of sessions logged in from the start (more log in at checkout). */
  loggedInRatio: number;
}

/** Creates sessions and the events they emit as they move through the funnel. */
export class ClickFunnel {
  private orderSeq = 0;
  private readonly rng: Rng;
  private readonly sources: FunnelSources;

  constructor(rng: Rng, sources: FunnelSources) {
    this.rng = rng;
    this.sources = sources;
  }

  /** A product by popularity. */
  pickProduct(): CatalogEntry {
    return this.sources.products[this.sources.popularity.sample(this.rng)];
  }

  /** A visitor arriving on a landing page, logged in or not. */
  newSession(): Session {
    const { rng, sources } = this;
    const id = rng.uuid();
    return {
      id,
      key: Buffer.from(id, 'utf8'),
      customerId: sources.customers.length && rng.chance(sources.loggedInRatio) ? rng.pick(sources.customers) : null,
      userAgent: UA_SAMPLER.sample(rng),
      stage: 'landing',
      maxTime: undefined,
      lastProduct: undefined,
      cart: new Map(),
    };
  }

  /** An event of `type` with only the session's fields set. */
  baseEvent(s: Session | null, t: number, type: EventType): ClickEvent {
    return {
      event_id: this.rng.uuid(),
      event_type: type,
      session_id: s?.id ?? null,
      customer_id: s?.customerId ?? null,
      event_time: t,
      page_url: null,
      product_id: null,
      quantity: null,
      price: null,
      order_id: null,
      user_agent: s?.userAgent ?? UA_SAMPLER.sample(this.rng),
    };
  }

  /** The session's next step, or null when the visitor leaves (cart steps need a non-empty cart). */
  nextType(s: Session): EventType | null {
    for (let i = 0; i < 4; i++) {
      const t = NEXT[s.stage].sample(this.rng);
      if (t === 'remove_from_cart' && s.cart.size === 0) continue;
      if (t === 'checkout_started' && s.cart.size === 0) continue;
      return t;
    }
    return null;
  }

  /** The session's next funnel event (advancing its state), at time t. */
  funnelEvent(s: Session, t: number, type: EventType): ClickEvent {
    const e = this.baseEvent(s, t, type);
    switch (type) {
      case 'page_view':
        e.page_url = this.rng.pick(LANDING_PAGES);
        break;
      case 'product_view':
        this.viewProduct(s, e);
        break;
      case 'add_to_cart':
        this.addToCart(s, e);
        break;
      case 'remove_from_cart':
        this.removeFromCart(s, e);
        break;
      case 'checkout_started':
        this.startCheckout(s, e);
        break;
      case 'purchase':
        this.purchase(s, e);
        break;
    }
    return e;
  }

  /** A well-formed event unrelated to session state, as raw material for bad records. */
  looseEvent(s: Session, t: number): ClickEvent {
    const p = this.pickProduct();
    const e = this.baseEvent(s, t, 'product_view');
    e.product_id = p.id;
    e.page_url = `/p/${p.id}`;
    return e;
  }

  private viewProduct(s: Session, e: ClickEvent): void {
    const p = this.pickProduct();
    s.lastProduct = p;
    e.product_id = p.id;
    e.page_url = `/p/${p.id}`;
    if (s.stage === 'landing') s.stage = 'browsing';
  }

  private addToCart(s: Session, e: ClickEvent): void {
    const p = s.lastProduct ?? this.pickProduct();
    const qty = this.rng.weighted([1, 2, 3], [80, 15, 5]);
    const line = s.cart.get(p.id);
    s.cart.set(p.id, { product: p, qty: (line?.qty ?? 0) + qty });
    Object.assign(e, { product_id: p.id, quantity: qty, price: p.price, page_url: `/p/${p.id}` });
    s.stage = 'cart';
  }

  private removeFromCart(s: Session, e: ClickEvent): void {
    const lines = [...s.cart.values()];
    const line = this.rng.pick(lines);
    const qty = this.rng.int(1, line.qty);
    if (qty === line.qty) s.cart.delete(line.product.id);
    else line.qty -= qty;
    Object.assign(e, { product_id: line.product.id, quantity: qty, price: line.product.price, page_url: '/cart' });
    if (s.cart.size === 0) s.stage = 'browsing';
  }

  private startCheckout(s: Session, e: ClickEvent): void {
    const { customers } = this.sources;
    // Many visitors log in (or create an account) at checkout.
    if (s.customerId === null && customers.length && this.rng.chance(0.5)) s.customerId = this.rng.pick(customers);
    e.customer_id = s.customerId;
    e.page_url = '/checkout';
    s.stage = 'checkout';
  }

  private purchase(s: Session, e: ClickEvent): void {
    const first = s.cart.values().next().value;
    e.product_id = first?.product.id ?? null;
    e.order_id = 900_000_000 + ++this.orderSeq;
    e.page_url = '/checkout/confirmation';
    s.stage = 'purchased';
  }
}
