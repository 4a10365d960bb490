import { writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config } from '../../config/config.ts';
import { SluiceError } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import {
  applyOltpDdl,
  connectOltp,
  OLTP_FOREIGN_KEYS,
  SECONDARY_INDEXES,
  ORDER_STATUSES,
  resetOltp,
  type OltpTarget,
  type OrderStatus,
} from '../oltp/oltpDdl.ts';
import { createRng, DailyRhythmSampler, WeightedSampler, ZipfSampler, type Rng, type Seed } from './random.ts';
import { formatRate, sleep, startProgress, TokenBucket } from './pacing.ts';

/**
 * The shop's OLTP data: a fast seeded bulk load through COPY, and an activity loop that keeps the
 * shop alive (new orders, status transitions, customer and price updates) while slipping in a
 * known number of bad rows for the data-quality rules to catch.
 */

const log = createLogger('generate.oltp');
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

// ---------------------------------------------------------------------------------------------
// Reference data: what a European web shop's catalogue and customer base look like.

interface CategorySpec {
  name: string;
  weight: number;
  minPrice: number;
  maxPrice: number;
  nouns: readonly string[];
}

export const CATEGORIES: readonly CategorySpec[] = [
  {
    name: 'electronics',
    weight: 12,
    minPrice: 19,
    maxPrice: 1499,
    nouns: ['Headphones', 'Speaker', 'Smartwatch', 'Camera', 'Charger', 'Earbuds', 'Monitor', 'Power Bank'],
  },
  {
    name: 'computers',
    weight: 6,
    minPrice: 199,
    maxPrice: 2999,
    nouns: ['Laptop', 'Desktop', 'Tablet', 'Keyboard', 'Graphics Card', 'SSD'],
  },
  {
    name: 'books',
    weight: 14,
    minPrice: 4,
    maxPrice: 60,
    nouns: ['Novel', 'Cookbook', 'Travel Guide', 'Biography', 'Comic', 'Atlas'],
  },
  {
    name: 'clothing',
    weight: 14,
    minPrice: 9,
    maxPrice: 180,
    nouns: ['T-Shirt', 'Jacket', 'Jeans', 'Hoodie', 'Dress', 'Scarf', 'Sweater'],
  },
  {
    name: 'shoes',
    weight: 6,
    minPrice: 25,
    maxPrice: 220,
    nouns: ['Sneakers', 'Boots', 'Sandals', 'Loafers', 'Running Shoes'],
  },
  {
    name: 'home',
    weight: 10,
    minPrice: 8,
    maxPrice: 400,
    nouns: ['Lamp', 'Rug', 'Cushion', 'Mirror', 'Shelf', 'Blanket'],
  },
  {
    name: 'kitchen',
    weight: 8,
    minPrice: 6,
    maxPrice: 350,
    nouns: ['Pan', 'Knife Set', 'Kettle', 'Blender', 'Mug', 'Cutting Board'],
  },
  {
    name: 'toys',
    weight: 7,
    minPrice: 5,
    maxPrice: 120,
    nouns: ['Puzzle', 'Building Set', 'Plush Bear', 'Board Game', 'Kite'],
  },
  {
    name: 'beauty',
    weight: 7,
    minPrice: 3,
    maxPrice: 90,
    nouns: ['Shampoo', 'Face Cream', 'Perfume', 'Lipstick', 'Soap'],
  },
  {
    name: 'sports',
    weight: 7,
    minPrice: 10,
    maxPrice: 600,
    nouns: ['Yoga Mat', 'Dumbbell', 'Tennis Racket', 'Bike Helmet', 'Backpack'],
  },
  {
    name: 'garden',
    weight: 4,
    minPrice: 5,
    maxPrice: 300,
    nouns: ['Hose', 'Planter', 'Shears', 'Seeds', 'Bird Feeder'],
  },
  {
    name: 'grocery',
    weight: 5,
    minPrice: 1,
    maxPrice: 40,
    nouns: ['Coffee', 'Tea', 'Olive Oil', 'Chocolate', 'Pasta', 'Honey'],
  },
];

const ADJECTIVES = [
  'Classic',
  'Premium',
  'Eco',
  'Compact',
  'Deluxe',
  'Ultra',
  'Smart',
  'Vintage',
  'Essential',
  'Pro',
  'Mini',
  'Organic',
  'Nordic',
  "Chef's",
  'Urban',
  'Soft',
];
const COLORS = ['Black', 'White', 'Blue', 'Red', 'Green', 'Grey', 'Oak', 'Sand', 'Navy', 'Olive'];

const COUNTRIES: readonly { code: string; weight: number; currency: string }[] = [
  { code: 'DE', weight: 20, currency: 'EUR' },
  { code: 'FR', weight: 14, currency: 'EUR' },
  { code: 'GB', weight: 12, currency: 'GBP' },
  { code: 'US', weight: 16, currency: 'USD' },
  { code: 'NL', weight: 6, currency: 'EUR' },
  { code: 'ES', weight: 8, currency: 'EUR' },
  { code: 'IT', weight: 8, currency: 'EUR' },
  { code: 'PL', weight: 5, currency: 'PLN' },
  { code: 'SE', weight: 4, currency: 'SEK' },
  { code: 'BE', weight: 3, currency: 'EUR' },
  { code: 'AT', weight: 2, currency: 'EUR' },
  { code: 'IE', weight: 2, currency: 'EUR' },
];
const CURRENCY_BY_COUNTRY = new Map(COUNTRIES.map((c) => [c.code, c.currency]));

const FIRST_NAMES = [
  'Anna',
  'Ben',
  'Clara',
  'David',
  'Emma',
  'Felix',
  'Greta',
  'Hugo',
  'Ines',
  'Jonas',
  'Karla',
  'Lukas',
  'Mia',
  'Noah',
  'Olivia',
  'Paul',
  'Quentin',
  'Rosa',
  'Sofia',
  'Tom',
  'Ursula',
  'Victor',
  'Wanda',
  'Xavier',
  'Yara',
  'Zoe',
  'Liam',
  'Chloé',
  'Mateo',
  'Léa',
  'Oskar',
  'Maja',
  'Giulia',
  'Lars',
  'Siobhan',
  'Zofia',
  'José',
  'Amélie',
  'Björn',
  'Nora',
];
const LAST_NAMES = [
  'Müller',
  'Schmidt',
  'Martin',
  'Bernard',
  'Smith',
  'Jones',
  'Garcia',
  'Rossi',
  'Bianchi',
  'Nowak',
  'Kowalski',
  'Jansen',
  'de Vries',
  'Andersson',
  'Johansson',
  "O'Brien",
  'Murphy',
  'Dubois',
  'Lefebvre',
  'Fernández',
  'López',
  'Wagner',
  'Becker',
  'Hoffmann',
  'Peeters',
  'Gruber',
  'Taylor',
  'Brown',
  'Wilson',
  'Novak',
];
const EMAIL_DOMAINS = ['example.com', 'mail.example.org', 'shopper.example.net', 'example.de', 'example.fr'];

/** Status strings a buggy legacy writer produced; none is in ORDER_STATUSES. */
export const UNKNOWN_STATUSES = ['shiped', 'UNKNOWN', 'canceled', 'payed', 'Delivered', 'in_transit'] as const;

/** Orders whose customer does not exist point at ids from here up (identity never gets there). */
export const ORPHAN_CUSTOMER_BASE = 1_000_000_000_000;

// ---------------------------------------------------------------------------------------------
// COPY text format

/** One field in COPY text format: `\N` for null; backslash, tab, newline and CR escaped. */
export function copyField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Integer cents → "12.30" / "-0.05" (no float arithmetic on money). */
export function centsToDecimal(cents: number): string {
  const neg = cents < 0;
  const abs = Math.abs(Math.round(cents));
  const s = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return neg ? `-${s}` : s;
}

/** "12.30" → 1230. */
export function decimalToCents(text: string): number {
  const m = /^(-)?(\d+)(?:\.(\d{1,2}))?/.exec(String(text).trim());
  if (!m) throw new RangeError(`not a money amount: ${text}`);
  const cents = Number(m[2]) * 100 + Number((m[3] ?? '0').padEnd(2, '0'));
  return m[1] ? -cents : cents;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Streams rows into `table` through COPY FROM STDIN, in ~1 MiB text chunks. */
async function copyRows(
  client: pg.Client,
  table: string,
  columns: readonly string[],
  rows: Iterable<string>,
  onRows?: (n: number) => void,
  signal?: AbortSignal,
): Promise<number> {
  const CHUNK = 1 << 20;
  let count = 0;
  function* chunks(): Generator<string> {
    let buf = '';
    let inChunk = 0;
    for (const line of rows) {
      if (signal?.aborted && inChunk === 0) throw abortError(); // COPY fails, the transaction rolls back
      buf += line;
      count++;
      inChunk++;
      if (buf.length >= CHUNK) {
        yield buf;
        onRows?.(inChunk);
        buf = '';
        inChunk = 0;
      }
    }
    if (buf) {
      yield buf;
      onRows?.(inChunk);
    }
  }
  const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin with (format text)`));
  try {
    await pipeline(Readable.from(chunks(), { objectMode: false }), stream);
  } catch (err) {
    if (signal?.aborted) throw abortError();
    throw new SluiceError('PG_QUERY_FAILED', `COPY into ${table}: ${(err as Error).message}`, { cause: err });
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Seeding

export interface SeedOptions {
  customers: number;
  products: number;
  orders: number;
  seed?: Seed;
  /** Database name on the configured server, or a full pg config; default cfg.oltpDatabase. */
  database?: OltpTarget;
  /** Drop and recreate the tables first. */
  reset?: boolean;
  /** "Now" for the generated timestamps (orders fall in the 30 days before it); default Date.now(). */
  baseTime?: number;
  /** Days of order history before baseTime; default 30. */
  days?: number;
  /** Progress line on stderr; default: when stderr is a terminal. */
  progress?: boolean;
  signal?: AbortSignal;
}

export interface SeedResult {
  customers: number;
  products: number;
  orders: number;
  orderItems: number;
  rows: number;
  elapsedMs: number;
  rowsPerSecond: number;
}

interface CatalogProduct {
  id: number;
  cents: number;
}
interface Customer {
  id: number;
  currency: string;
}

/** Price in cents: log-uniform inside the category's band, with shop-style endings (.99, .49, .95, .00). */
function priceCents(rng: Rng, cat: CategorySpec): number {
  const v = Math.exp(rng.float(Math.log(cat.minPrice), Math.log(cat.maxPrice)));
  const euros = Math.max(0, Math.floor(v));
  const ending = rng.weighted([99, 49, 95, 0, 90], [50, 15, 15, 10, 10]);
  return Math.max(ending === 0 ? 100 : 0, euros * 100 + ending);
}

function customerName(rng: Rng): { first: string; last: string } {
  return { first: rng.pick(FIRST_NAMES), last: rng.pick(LAST_NAMES) };
}

function emailFor(first: string, last: string, tag: string | number, domain: string): string {
  const clean = (s: string) =>
    s
      .normalize('NFD')
      .replace(/[^A-Za-z]/g, '')
      .toLowerCase();
  return `${clean(first)}.${clean(last)}${tag}@${domain}`;
}

/**
 * Status of an order placed `ageMs` before now, following the lifecycle
 * pending → paid → shipped → delivered, with cancellations and refunds.
 */
export function lifecycleStatus(rng: Rng, ageMs: number): OrderStatus {
  const h = ageMs / HOUR_MS;
  if (h > 0.5 && rng.chance(0.04)) return 'cancelled';
  if (h > 72 && rng.chance(0.025)) return 'refunded';
  if (h < 2) return rng.chance(0.6) ? 'pending' : 'paid';
  if (h < 24) return rng.weighted(['pending', 'paid', 'shipped'] as const, [8, 62, 30]);
  if (h < 96) return rng.weighted(['paid', 'shipped', 'delivered'] as const, [5, 45, 50]);
  return rng.chance(0.97) ? 'delivered' : 'shipped';
}

const ITEM_COUNTS = new WeightedSampler([1, 2, 3, 4, 5, 6], [45, 25, 14, 8, 5, 3]);
const QUANTITIES = new WeightedSampler([1, 2, 3, 4], [75, 17, 6, 2]);
const COUNTRY_SAMPLER = new WeightedSampler(
  COUNTRIES.map((c) => c.code),
  COUNTRIES.map((c) => c.weight),
);
const CATEGORY_SAMPLER = new WeightedSampler(
  CATEGORIES,
  CATEGORIES.map((c) => c.weight),
);

async function nextId(client: pg.Client, table: string, pk: string): Promise<number> {
  const { rows } = await client.query(`select coalesce(max(${pk}), 0)::bigint as m from ${table}`);
  return Number(rows[0].m) + 1;
}

async function syncIdentity(client: pg.Client, table: string, pk: string): Promise<void> {
  await client.query(
    `select setval(pg_get_serial_sequence('${table}', '${pk}'), greatest((select coalesce(max(${pk}), 0) from ${table}), 1), (select count(*) > 0 from ${table}))`,
  );
}

/**
 * Seeds customers, products and orders with their items through COPY, in one transaction.
 * New rows get ids after the current maximum of each table; orders reference every customer and
 * active product in the database. The same seed, counts and baseTime on the same starting state
 * give the same rows (except `updated_at`, which is the database clock).
 */
export async function seedOltp(cfg: Config, opts: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const rng = createRng(opts.seed ?? 42);
  const baseTime = opts.baseTime ?? Date.now();
  const days = opts.days ?? 30;
  const client = await connectOltp(cfg, opts.database);
  let copied = 0;
  const progress = startProgress(
    (ms) => `seeding oltp: ${copied.toLocaleString('en')} rows (${formatRate(copied, ms)})`,
    { enabled: opts.progress },
  );
  const onRows = (n: number) => {
    copied += n;
  };
  const result: SeedResult = {
    customers: 0,
    products: 0,
    orders: 0,
    orderItems: 0,
    rows: 0,
    elapsedMs: 0,
    rowsPerSecond: 0,
  };
  try {
    if (opts.reset) await resetOltp(client);
    else await applyOltpDdl(client);
    await client.query('begin');
    // One seeder at a time per database; a concurrent activity run only touches rows it reads.
    await client.query(`select pg_advisory_xact_lock(hashtext('sluice.oltp.seed'))`);

    // Customers.
    if (opts.customers > 0) {
      const r = rng.fork('customers');
      const first = await nextId(client, 'customers', 'customer_id');
      function* lines(): Generator<string> {
        for (let i = 0; i < opts.customers; i++) {
          const id = first + i;
          const { first: fn, last: ln } = customerName(r);
          const country = COUNTRY_SAMPLER.sample(r);
          const created = baseTime - (days + 1) * DAY_MS - Math.floor(r.next() * 700 * DAY_MS);
          yield `${id}\t${copyField(emailFor(fn, ln, id, r.pick(EMAIL_DOMAINS)))}\t${copyField(`${fn} ${ln}`)}\t${country}\t${iso(created)}\n`;
        }
      }
      result.customers = await copyRows(
        client,
        'customers',
        ['customer_id', 'email', 'full_name', 'country', 'created_at'],
        lines(),
        onRows,
        opts.signal,
      );
      await syncIdentity(client, 'customers', 'customer_id');
    }
    if (opts.signal?.aborted) throw abortError();

    // Products.
    if (opts.products > 0) {
      const r = rng.fork('products');
      const first = await nextId(client, 'products', 'product_id');
      function* lines(): Generator<string> {
        for (let i = 0; i < opts.products; i++) {
          const id = first + i;
          const cat = CATEGORY_SAMPLER.sample(r);
          const name = `${r.pick(ADJECTIVES)} ${r.pick(cat.nouns)}${r.chance(0.5) ? ` ${r.pick(COLORS)}` : ''}`;
          const sku = `${cat.name.slice(0, 3).toUpperCase()}-${String(id).padStart(7, '0')}`;
          const created = baseTime - (days + 1) * DAY_MS - Math.floor(r.next() * 1000 * DAY_MS);
          yield `${id}\t${sku}\t${copyField(name)}\t${cat.name}\t${centsToDecimal(priceCents(r, cat))}\t${r.chance(0.96) ? 't' : 'f'}\t${iso(created)}\n`;
        }
      }
      result.products = await copyRows(
        client,
        'products',
        ['product_id', 'sku', 'name', 'category', 'price', 'active', 'created_at'],
        lines(),
        onRows,
        opts.signal,
      );
      await syncIdentity(client, 'products', 'product_id');
    }
    if (opts.signal?.aborted) throw abortError();

    // Orders and their items.
    if (opts.orders > 0) {
      const customers: Customer[] = (
        await client.query('select customer_id, country from customers order by customer_id')
      ).rows.map((row) => ({ id: Number(row.customer_id), currency: CURRENCY_BY_COUNTRY.get(row.country) ?? 'EUR' }));
      const catalog: CatalogProduct[] = (
        await client.query('select product_id, price from products where active order by product_id')
      ).rows.map((row) => ({ id: Number(row.product_id), cents: decimalToCents(row.price) }));
      if (!customers.length || !catalog.length) {
        throw new SluiceError(
          'CLI_USAGE',
          `cannot seed orders: the database has ${customers.length} customers and ${catalog.length} active products; seed some with --customers and --products`,
        );
      }
      const firstOrder = await nextId(client, 'orders', 'order_id');
      const firstItem = await nextId(client, 'order_items', 'order_item_id');
      const shape = rng.fork('shape');
      // Popularity: Zipf over a shuffled catalogue, so the best sellers are not simply the lowest ids.
      const productRank = shape.shuffled(catalog);
      const productZipf = new ZipfSampler(productRank.length, 1.07);
      const customerRank = shape.shuffled(customers);
      const customerZipf = new ZipfSampler(customerRank.length, 0.6);
      const times = new DailyRhythmSampler(baseTime - days * DAY_MS, baseTime);

      // Generated twice from the same stream (orders first, then items, for the foreign key),
      // instead of holding every item in memory.
      function* orderStream(withLine: boolean): Generator<{ line: string; items: string[] }> {
        const r = rng.fork('orders');
        let itemId = firstItem;
        for (let i = 0; i < opts.orders; i++) {
          const orderId = firstOrder + i;
          const customer = customerRank[customerZipf.sample(r)];
          const orderedAt = times.sample(r);
          const nItems = Math.min(ITEM_COUNTS.sample(r), productRank.length);
          const picks = r.distinctInts(nItems, productRank.length, () => productZipf.sample(r));
          let total = 0;
          const items: string[] = [];
          for (const rank of picks) {
            const p = productRank[rank];
            const qty = QUANTITIES.sample(r);
            total += qty * p.cents;
            items.push(`${itemId++}\t${orderId}\t${p.id}\t${qty}\t${centsToDecimal(p.cents)}\n`);
          }
          const status = lifecycleStatus(r, baseTime - orderedAt);
          yield {
            line: withLine
              ? `${orderId}\t${customer.id}\t${status}\t${centsToDecimal(total)}\t${customer.currency}\t${iso(orderedAt)}\n`
              : '',
            items,
          };
        }
      }
      function* orderLines(): Generator<string> {
        for (const o of orderStream(true)) yield o.line;
      }
      function* itemLines(): Generator<string> {
        for (const o of orderStream(false)) yield* o.items;
      }
      // Checking two foreign keys row by row costs far more than the load itself: drop them inside
      // the transaction and re-add them after, which validates every row in one join (a failure
      // rolls everything back, the constraints included).
      for (const fk of OLTP_FOREIGN_KEYS)
        await client.query(`alter table ${fk.table} drop constraint if exists ${fk.name}`);
      // Into empty tables, building the secondary indexes once after the load beats maintaining them row by row.
      const rebuild =
        firstOrder === 1 && firstItem === 1
          ? SECONDARY_INDEXES.filter((ix) => ix.table === 'orders' || ix.table === 'order_items')
          : [];
      for (const ix of rebuild) await client.query(`drop index if exists ${ix.name}`);
      result.orders = await copyRows(
        client,
        'orders',
        ['order_id', 'customer_id', 'status', 'total_amount', 'currency', 'ordered_at'],
        orderLines(),
        onRows,
        opts.signal,
      );
      if (opts.signal?.aborted) throw abortError();
      result.orderItems = await copyRows(
        client,
        'order_items',
        ['order_item_id', 'order_id', 'product_id', 'quantity', 'unit_price'],
        itemLines(),
        onRows,
        opts.signal,
      );
      for (const ix of rebuild) await client.query(ix.create);
      for (const fk of OLTP_FOREIGN_KEYS)
        await client.query(`alter table ${fk.table} add constraint ${fk.name} ${fk.definition}`);
      await syncIdentity(client, 'orders', 'order_id');
      await syncIdentity(client, 'order_items', 'order_item_id');
    }
    if (opts.signal?.aborted) throw abortError();
    await client.query('commit');
    await client.query('analyze customers, products, orders, order_items');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    progress.stop(false);
    await client.end().catch(() => {});
  }
  result.rows = result.customers + result.products + result.orders + result.orderItems;
  result.elapsedMs = Math.round(performance.now() - t0);
  result.rowsPerSecond = Math.round((result.rows * 1000) / Math.max(1, result.elapsedMs));
  log.info({ ...result }, 'oltp seeded');
  return result;
}

/** Thrown by seedOltp when its signal aborts: the transaction was rolled back, nothing was written. */
export function abortError(): SluiceError {
  return new SluiceError('CLI_USAGE', 'seeding interrupted; the transaction was rolled back and nothing was written', {
    details: { aborted: true },
  });
}

export function isSeedAborted(err: unknown): boolean {
  return err instanceof SluiceError && err.details?.aborted === true;
}

// ---------------------------------------------------------------------------------------------
// Activity

export interface ActivityOptions {
  /** Changes per second (each change is one business event: an order, a transition, an update). */
  rate: number;
  /** Stop after this long (default: until `count` or the signal). */
  durationMs?: number;
  /** Stop after this many changes (good and bad). */
  count?: number;
  /** Share of changes that are bad rows (0..1). */
  badRatio?: number;
  seed?: Seed;
  database?: OltpTarget;
  signal?: AbortSignal;
  /** Writes the ground truth (ActivityCounts) as JSON here at the end. */
  groundTruthFile?: string;
  progress?: boolean;
}

export interface ActivityCounts {
  /** Every change made: sum of `changes` (without order_items) and `bad`. */
  total: number;
  changes: {
    /** Well-formed new orders (bad new orders are counted under `bad` only). */
    new_orders: number;
    /** Item rows inserted, for good and bad orders. */
    order_items: number;
    status_transitions: number;
    new_customers: number;
    customer_updates: number;
    price_updates: number;
  };
  /** Rows the data-quality rules must catch; each is exactly one kind. */
  bad: {
    /** Orders with total_amount < 0. */
    negative_total: number;
    /** Orders whose status is not in ORDER_STATUSES. */
    unknown_status: number;
    /** Customers whose email became or was created NULL. */
    null_email: number;
    /** Orders whose customer_id does not exist in customers. */
    unknown_customer: number;
  };
  /** Attempted changes that found nothing to change (a concurrent writer got there first). */
  skipped: number;
  elapsedMs: number;
  aborted: boolean;
}

export function emptyActivityCounts(): ActivityCounts {
  return {
    total: 0,
    changes: {
      new_orders: 0,
      order_items: 0,
      status_transitions: 0,
      new_customers: 0,
      customer_updates: 0,
      price_updates: 0,
    },
    bad: { negative_total: 0, unknown_status: 0, null_email: 0, unknown_customer: 0 },
    skipped: 0,
    elapsedMs: 0,
    aborted: false,
  };
}

type GoodKind = 'new_order' | 'status_transition' | 'new_customer' | 'customer_update' | 'price_update';
type BadKind = keyof ActivityCounts['bad'];
const GOOD_KINDS = new WeightedSampler<GoodKind>(
  ['new_order', 'status_transition', 'new_customer', 'customer_update', 'price_update'],
  [34, 36, 8, 12, 10],
);
const BAD_KINDS: readonly BadKind[] = ['negative_total', 'unknown_status', 'null_email', 'unknown_customer'];

const NEXT_STATUS: Record<string, WeightedSampler<OrderStatus>> = {
  pending: new WeightedSampler<OrderStatus>(['paid', 'cancelled'], [85, 15]),
  paid: new WeightedSampler<OrderStatus>(['shipped', 'cancelled', 'refunded'], [92, 5, 3]),
  shipped: new WeightedSampler<OrderStatus>(['delivered', 'refunded'], [97, 3]),
};

const INSERT_ORDER = `with o as (
  insert into orders (customer_id, status, total_amount, currency, ordered_at) values ($1, $2, $3, $4, clock_timestamp()) returning order_id
), i as (
  insert into order_items (order_id, product_id, quantity, unit_price)
  select o.order_id, x.product_id, x.quantity, x.unit_price from o, unnest($5::bigint[], $6::int[], $7::numeric[]) as x(product_id, quantity, unit_price)
  returning 1
)
select (select order_id from o) as order_id, (select count(*) from i)::int as items`;

/**
 * Keeps the shop alive at `rate` changes per second until `durationMs`, `count` or the signal.
 * A `badRatio` share of changes are bad rows, one kind each, counted exactly: on a database
 * seeded clean, SQL counts of each bad kind equal the returned `bad` counts.
 */
export async function runOltpActivity(cfg: Config, opts: ActivityOptions): Promise<ActivityCounts> {
  const t0 = performance.now();
  const rng = createRng(opts.seed ?? 42).fork('activity');
  const badRatio = Math.min(1, Math.max(0, opts.badRatio ?? 0));
  const counts = emptyActivityCounts();
  const client = await connectOltp(cfg, opts.database);
  const progress = startProgress(
    (ms) => {
      const c = counts.changes;
      const bad = Object.values(counts.bad).reduce((a, b) => a + b, 0);
      return `oltp activity: ${counts.total.toLocaleString('en')} changes (${formatRate(counts.total, ms)}) · orders ${c.new_orders} · transitions ${c.status_transitions} · customers +${c.new_customers}/~${c.customer_updates} · prices ${c.price_updates} · bad ${bad}`;
    },
    { enabled: opts.progress },
  );

  try {
    await applyOltpDdl(client);
    // Working sets, loaded once: ids are all we need to pick rows to change.
    const customers: Customer[] = (
      await client.query('select customer_id, country from customers where email is not null order by customer_id')
    ).rows.map((row) => ({ id: Number(row.customer_id), currency: CURRENCY_BY_COUNTRY.get(row.country) ?? 'EUR' }));
    const products: CatalogProduct[] = (
      await client.query('select product_id, price from products where active order by product_id')
    ).rows.map((row) => ({ id: Number(row.product_id), cents: decimalToCents(row.price) }));
    const open: { id: number; status: string }[] = (
      await client.query(
        `select order_id, status from orders where status in ('pending', 'paid', 'shipped') order by order_id desc limit 20000`,
      )
    ).rows.map((row) => ({ id: Number(row.order_id), status: row.status as string }));
    if (!products.length)
      throw new SluiceError(
        'CLI_USAGE',
        'the OLTP database has no active products: seed it first (sluice generate oltp --customers N --products N --orders N)',
      );
    const popularity = new ZipfSampler(products.length, 1.07);
    const productRank = rng.shuffled(products.map((_, i) => i));

    const pickProducts = (): { ids: number[]; qty: number[]; prices: string[]; total: number } => {
      const n = Math.min(ITEM_COUNTS.sample(rng), products.length);
      const picks = rng.distinctInts(n, products.length, () => productRank[popularity.sample(rng)]);
      const ids: number[] = [],
        qty: number[] = [],
        prices: string[] = [];
      let total = 0;
      for (const idx of picks) {
        const p = products[idx];
        const q = QUANTITIES.sample(rng);
        ids.push(p.id);
        qty.push(q);
        prices.push(centsToDecimal(p.cents));
        total += q * p.cents;
      }
      return { ids, qty, prices, total };
    };

    const insertOrder = async (
      customerId: number,
      currency: string,
      status: string,
      totalOverride?: number,
    ): Promise<number> => {
      const items = pickProducts();
      const total = totalOverride ?? items.total;
      const { rows } = await client.query({
        name: 'sluice_insert_order',
        text: INSERT_ORDER,
        values: [customerId, status, centsToDecimal(total), currency, items.ids, items.qty, items.prices],
      });
      counts.changes.order_items += rows[0].items;
      return Number(rows[0].order_id);
    };

    const newCustomer = async (email: string | null): Promise<number> => {
      const { first, last } = customerName(rng);
      const country = COUNTRY_SAMPLER.sample(rng);
      const { rows } = await client.query({
        name: 'sluice_insert_customer',
        text: 'insert into customers (email, full_name, country) values ($1, $2, $3) returning customer_id',
        values: [email, `${first} ${last}`, country],
      });
      const id = Number(rows[0].customer_id);
      if (email !== null) customers.push({ id, currency: CURRENCY_BY_COUNTRY.get(country) ?? 'EUR' });
      return id;
    };
    const freshEmail = () => {
      const { first, last } = customerName(rng);
      return emailFor(first, last, `.${rng.int(100, 999_999)}`, rng.pick(EMAIL_DOMAINS));
    };

    async function good(kind: GoodKind): Promise<boolean> {
      switch (kind) {
        case 'new_order': {
          if (!customers.length) return good('new_customer');
          const c = rng.pick(customers);
          const status = rng.chance(0.7) ? 'pending' : 'paid';
          const id = await insertOrder(c.id, c.currency, status);
          open.push({ id, status });
          counts.changes.new_orders++;
          return true;
        }
        case 'status_transition': {
          if (!open.length) return good('new_order');
          const idx = rng.int(0, open.length - 1);
          const o = open[idx];
          const next = NEXT_STATUS[o.status]?.sample(rng);
          // Swap-remove; re-added below while still in flight.
          open[idx] = open[open.length - 1];
          open.pop();
          if (!next) return false;
          const { rowCount } = await client.query({
            name: 'sluice_transition',
            text: 'update orders set status = $1 where order_id = $2 and status = $3',
            values: [next, o.id, o.status],
          });
          if (!rowCount) return false;
          if (next === 'paid' || next === 'shipped') open.push({ id: o.id, status: next });
          counts.changes.status_transitions++;
          return true;
        }
        case 'new_customer': {
          await newCustomer(freshEmail());
          counts.changes.new_customers++;
          return true;
        }
        case 'customer_update': {
          if (!customers.length) return good('new_customer');
          const c = rng.pick(customers);
          const res = rng.chance(0.5)
            ? await client.query({
                name: 'sluice_update_email',
                text: 'update customers set email = $1 where customer_id = $2 and email is not null',
                values: [freshEmail(), c.id],
              })
            : await client.query({
                name: 'sluice_update_name',
                text: 'update customers set full_name = $1 where customer_id = $2 and email is not null',
                values: [(({ first, last }) => `${first} ${last}`)(customerName(rng)), c.id],
              });
          if (!res.rowCount) return false;
          counts.changes.customer_updates++;
          return true;
        }
        case 'price_update': {
          const p = products[rng.int(0, products.length - 1)];
          const factor = (1 + rng.normalClamped(0, 0.06, -0.3, 0.3)).toFixed(4);
          const { rows } = await client.query({
            name: 'sluice_update_price',
            text: 'update products set price = greatest(0.01, round(price * $1::numeric, 2)) where product_id = $2 returning price',
            values: [factor, p.id],
          });
          if (!rows.length) return false;
          p.cents = decimalToCents(rows[0].price);
          counts.changes.price_updates++;
          return true;
        }
      }
    }

    async function bad(kind: BadKind): Promise<boolean> {
      switch (kind) {
        case 'negative_total': {
          const c = customers.length ? rng.pick(customers) : { id: await newCustomer(freshEmail()), currency: 'EUR' };
          await insertOrder(c.id, c.currency, 'paid', -rng.int(1, 50_000));
          break;
        }
        case 'unknown_status': {
          const c = customers.length ? rng.pick(customers) : { id: await newCustomer(freshEmail()), currency: 'EUR' };
          await insertOrder(c.id, c.currency, rng.pick(UNKNOWN_STATUSES));
          break;
        }
        case 'null_email': {
          if (customers.length && rng.chance(0.5)) {
            const idx = rng.int(0, customers.length - 1);
            const c = customers[idx];
            customers[idx] = customers[customers.length - 1];
            customers.pop();
            const { rowCount } = await client.query({
              name: 'sluice_null_email',
              text: 'update customers set email = null where customer_id = $1 and email is not null',
              values: [c.id],
            });
            if (!rowCount) return false;
          } else {
            await newCustomer(null);
          }
          break;
        }
        case 'unknown_customer': {
          await insertOrder(
            ORPHAN_CUSTOMER_BASE + rng.int(0, 999_999_999),
            rng.pick(['EUR', 'USD']),
            rng.chance(0.7) ? 'pending' : 'paid',
          );
          break;
        }
      }
      counts.bad[kind]++;
      return true;
    }

    const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 5));
    const deadline = opts.durationMs !== undefined ? performance.now() + opts.durationMs : Infinity;
    let attempts = 0;
    const limit = opts.count ?? Infinity;
    while (!opts.signal?.aborted && attempts < limit && performance.now() < deadline) {
      const n = bucket.take(Math.min(500, limit - attempts));
      if (n === 0) {
        await sleep(Math.min(bucket.waitMs(), Math.max(0, deadline - performance.now())), opts.signal);
        continue;
      }
      await client.query('begin');
      try {
        for (let i = 0; i < n; i++) {
          attempts++;
          const isBad = rng.chance(badRatio);
          const done = isBad ? await bad(rng.pick(BAD_KINDS)) : await good(GOOD_KINDS.sample(rng));
          if (done) counts.total++;
          else counts.skipped++;
        }
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {});
        throw new SluiceError('PG_QUERY_FAILED', `OLTP activity: ${(err as Error).message}`, { cause: err });
      }
    }
    counts.aborted = Boolean(opts.signal?.aborted);
  } finally {
    counts.elapsedMs = Math.round(performance.now() - t0);
    progress.stop(false);
    await client.end().catch(() => {});
  }
  if (opts.groundTruthFile) writeFileSync(opts.groundTruthFile, `${JSON.stringify(counts, null, 2)}\n`);
  log.info({ total: counts.total, bad: counts.bad, elapsedMs: counts.elapsedMs }, 'oltp activity finished');
  return counts;
}

/** The known order statuses (re-exported for rules and tests). */
export { ORDER_STATUSES };
