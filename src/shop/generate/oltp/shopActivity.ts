import type pg from 'pg';
import type { OrderStatus } from '../../oltp/oltpDdl.ts';
import { type Rng, WeightedSampler, ZipfSampler } from '../random.ts';
import type { ActivityCounts } from './activityCounts.ts';
import { BAD_KINDS, type BadKind, ORPHAN_CUSTOMER_BASE, UNKNOWN_STATUSES } from './badRows.ts';
import { centsToDecimal, decimalToCents } from './money.ts';
import { ITEM_COUNTS, QUANTITIES } from './orderShape.ts';
import { COUNTRY_SAMPLER, CURRENCY_BY_COUNTRY, customerName, EMAIL_DOMAINS, emailFor } from './people.ts';

type GoodKind = 'new_order' | 'status_transition' | 'new_customer' | 'customer_update' | 'price_update';
const GOOD_KINDS = new WeightedSampler<GoodKind>(
  ['new_order', 'status_transition', 'new_customer', 'customer_update', 'price_update'],
  [34, 36, 8, 12, 10],
);

const NEXT_STATUS: Record<string, WeightedSampler<OrderStatus>> = {
  pending: new WeightedSampler<OrderStatus>(['paid', 'cancelled'], [85, 15]),
  paid: new WeightedSampler<OrderStatus>(['shipped', 'cancelled', 'refunded'], [92, 5, 3]),
  shipped: new WeightedSampler<OrderStatus>(['delivered', 'refunded'], [97, 3]),
};

const INSERT_ORDER = `with o as (
  insert into orders (customer_id, status, total_amount, currency, ordered_at)
  values ($1, $2, $3, $4, clock_timestamp()) returning order_id
), i as (
  insert into order_items (order_id, product_id, quantity, unit_price)
  select o.order_id, x.product_id, x.quantity, x.unit_price
  from o, unnest($5::bigint[], $6::int[], $7::numeric[]) as x(product_id, quantity, unit_price)
  returning 1
)
select (select order_id from o) as order_id, (select count(*) from i)::int as items`;

/** A customer who can order (has an email), and the currency they pay in. */
export interface Customer {
  id: number;
  currency: string;
}
/** An active product and its current price. */
export interface CatalogProduct {
  id: number;
  cents: number;
}
/** An order that can still move on in its lifecycle. */
export interface OpenOrder {
  id: number;
  status: string;
}

/** The rows the activity picks from, loaded once: ids are all it needs to pick rows to change. */
export interface WorkingSets {
  customers: Customer[];
  products: CatalogProduct[];
  open: OpenOrder[];
}

/**
 * The shop's life, one business change at a time: new orders, status transitions, new customers,
 * customer and price updates, and bad rows of one kind each, counted exactly. Keeps its working
 * sets in step with what it changed.
 *
 * @example
 *   const shop = new ShopActivity(client, rng, await loadWorkingSets(client), counts);
 *   if (await shop.change(0.05)) counts.total++;
 */
export class ShopActivity {
  private readonly client: pg.Client;
  private readonly rng: Rng;
  private readonly customers: Customer[];
  private readonly products: CatalogProduct[];
  private readonly open: OpenOrder[];
  private readonly counts: ActivityCounts;
  private readonly popularity: ZipfSampler;
  /** Popularity rank → product index: a shuffled catalogue, so best sellers are not the lowest ids. */
  private readonly productRank: number[];

  constructor(client: pg.Client, rng: Rng, sets: WorkingSets, counts: ActivityCounts) {
    this.client = client;
    this.rng = rng;
    this.customers = sets.customers;
    this.products = sets.products;
    this.open = sets.open;
    this.counts = counts;
    this.popularity = new ZipfSampler(sets.products.length, 1.07);
    this.productRank = rng.shuffled(sets.products.map((_, i) => i));
  }

  /** One change, bad with probability `badRatio`; false when it found nothing to change. */
  change(badRatio: number): Promise<boolean> {
    const isBad = this.rng.chance(badRatio);
    return isBad ? this.bad(this.rng.pick(BAD_KINDS)) : this.good(GOOD_KINDS.sample(this.rng));
  }

  private good(kind: GoodKind): Promise<boolean> {
    switch (kind) {
      case 'new_order':
        return this.newOrder();
      case 'status_transition':
        return this.statusTransition();
      case 'new_customer':
        return this.signUp();
      case 'customer_update':
        return this.customerUpdate();
      case 'price_update':
        return this.priceUpdate();
    }
  }

  private async bad(kind: BadKind): Promise<boolean> {
    switch (kind) {
      case 'negative_total': {
        const c = await this.someCustomer();
        const total = -this.rng.int(1, 50_000);
        await this.insertOrder(c.id, c.currency, 'paid', total);
        break;
      }
      case 'unknown_status': {
        const c = await this.someCustomer();
        await this.insertOrder(c.id, c.currency, this.rng.pick(UNKNOWN_STATUSES));
        break;
      }
      case 'null_email':
        if (!(await this.nullEmail())) return false;
        break;
      case 'unknown_customer': {
        const id = ORPHAN_CUSTOMER_BASE + this.rng.int(0, 999_999_999);
        const currency = this.rng.pick(['EUR', 'USD']);
        await this.insertOrder(id, currency, this.rng.chance(0.7) ? 'pending' : 'paid');
        break;
      }
    }
    this.counts.bad[kind]++;
    return true;
  }

  private async newOrder(): Promise<boolean> {
    if (!this.customers.length) return this.good('new_customer');
    const c = this.rng.pick(this.customers);
    const status = this.rng.chance(0.7) ? 'pending' : 'paid';
    const id = await this.insertOrder(c.id, c.currency, status);
    this.open.push({ id, status });
    this.counts.changes.new_orders++;
    return true;
  }

  private async statusTransition(): Promise<boolean> {
    const { open, rng } = this;
    if (!open.length) return this.good('new_order');
    const idx = rng.int(0, open.length - 1);
    const o = open[idx];
    const next = NEXT_STATUS[o.status]?.sample(rng);
    // Swap-remove; re-added below while still in flight.
    open[idx] = open[open.length - 1];
    open.pop();
    if (!next) return false;
    const { rowCount } = await this.client.query({
      name: 'sluice_transition',
      text: 'update orders set status = $1 where order_id = $2 and status = $3',
      values: [next, o.id, o.status],
    });
    if (!rowCount) return false;
    if (next === 'paid' || next === 'shipped') open.push({ id: o.id, status: next });
    this.counts.changes.status_transitions++;
    return true;
  }

  private async signUp(): Promise<boolean> {
    await this.newCustomer(this.freshEmail());
    this.counts.changes.new_customers++;
    return true;
  }

  private async customerUpdate(): Promise<boolean> {
    if (!this.customers.length) return this.good('new_customer');
    const c = this.rng.pick(this.customers);
    const res = this.rng.chance(0.5)
      ? await this.client.query({
          name: 'sluice_update_email',
          text: 'update customers set email = $1 where customer_id = $2 and email is not null',
          values: [this.freshEmail(), c.id],
        })
      : await this.client.query({
          name: 'sluice_update_name',
          text: 'update customers set full_name = $1 where customer_id = $2 and email is not null',
          values: [(({ first, last }) => `${first} ${last}`)(customerName(this.rng)), c.id],
        });
    if (!res.rowCount) return false;
    this.counts.changes.customer_updates++;
    return true;
  }

  private async priceUpdate(): Promise<boolean> {
    const p = this.products[this.rng.int(0, this.products.length - 1)];
    const factor = (1 + this.rng.normalClamped(0, 0.06, -0.3, 0.3)).toFixed(4);
    const { rows } = await this.client.query({
      name: 'sluice_update_price',
      text:
        'update products set price = greatest(0.01, round(price * $1::numeric, 2)) ' +
        'where product_id = $2 returning price',
      values: [factor, p.id],
    });
    if (!rows.length) return false;
    p.cents = decimalToCents(rows[0].price);
    this.counts.changes.price_updates++;
    return true;
  }

  /** An existing customer's email set to NULL, or a new customer without one. */
  private async nullEmail(): Promise<boolean> {
    const { customers } = this;
    if (!customers.length || !this.rng.chance(0.5)) {
      await this.newCustomer(null);
      return true;
    }
    const idx = this.rng.int(0, customers.length - 1);
    const c = customers[idx];
    customers[idx] = customers[customers.length - 1];
    customers.pop();
    const { rowCount } = await this.client.query({
      name: 'sluice_null_email',
      text: 'update customers set email = null where customer_id = $1 and email is not null',
      values: [c.id],
    });
    return Boolean(rowCount);
  }

  private async someCustomer(): Promise<Customer> {
    if (this.customers.length) return this.rng.pick(this.customers);
    return { id: await this.newCustomer(this.freshEmail()), currency: 'EUR' };
  }

  private pickProducts(): { ids: number[]; qty: number[]; prices: string[]; total: number } {
    const { products, rng } = this;
    const n = Math.min(ITEM_COUNTS.sample(rng), products.length);
    const picks = rng.distinctInts(n, products.length, () => this.productRank[this.popularity.sample(rng)]);
    const ids: number[] = [];
    const qty: number[] = [];
    const prices: string[] = [];
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
  }

  private async insertOrder(customerId: number, currency: string, status: string, totalOverride?: number) {
    const items = this.pickProducts();
    const total = totalOverride ?? items.total;
    const { rows } = await this.client.query({
      name: 'sluice_insert_order',
      text: INSERT_ORDER,
      values: [customerId, status, centsToDecimal(total), currency, items.ids, items.qty, items.prices],
    });
    this.counts.changes.order_items += rows[0].items;
    return Number(rows[0].order_id);
  }

  private async newCustomer(email: string | null): Promise<number> {
    const { first, last } = customerName(this.rng);
    const country = COUNTRY_SAMPLER.sample(this.rng);
    const { rows } = await this.client.query({
      name: 'sluice_insert_customer',
      text: 'insert into customers (email, full_name, country) values ($1, $2, $3) returning customer_id',
      values: [email, `${first} ${last}`, country],
    });
    const id = Number(rows[0].customer_id);
    if (email !== null) this.customers.push({ id, currency: CURRENCY_BY_COUNTRY.get(country) ?? 'EUR' });
    return id;
  }

  private freshEmail(): string {
    const { first, last } = customerName(this.rng);
    return emailFor(first, last, `.${this.rng.int(100, 999_999)}`, this.rng.pick(EMAIL_DOMAINS));
  }
}
