import type { Config } from '../../../config/config.ts';
import { SluiceError } from '../../../core/errors.ts';
import { connectOltp, type OltpTarget } from '../../oltp/oltpDdl.ts';
import { createRng } from '../random.ts';
import type { CatalogEntry } from './clickMessage.ts';

/** A price for a product id when only ids are known: stable, shop-like (4.99 … 499.99). */
export function syntheticPrice(id: number): string {
  const r = createRng(`price/${id}`);
  return `${Math.floor(Math.exp(r.float(Math.log(4), Math.log(500))))}.${r.pick(['99', '49', '95', '00'])}`;
}

/** What the clickstream draws products and visitors from; what is not given is read from the OLTP database. */
export interface CatalogSource {
  /** Product ids of the catalogue. */
  productIds?: readonly number[];
  /** Shop prices by product id (decimal strings); derived from the id when not given. */
  productPrices?: ReadonlyMap<number, string>;
  /** Customers who can log in. */
  customerIds?: readonly number[];
  /** OLTP database to read the catalogue from (default cfg.oltpDatabase). */
  database?: OltpTarget;
}

/** The active products (by id) and the customers, from the options or else from the shop database. */
export async function loadCatalog(
  cfg: Config,
  opts: CatalogSource,
): Promise<{ products: CatalogEntry[]; customerIds: number[] }> {
  let products: CatalogEntry[] | undefined = opts.productIds?.map((id) => ({
    id,
    price: opts.productPrices?.get(id) ?? syntheticPrice(id),
  }));
  let customerIds = opts.customerIds ? [...opts.customerIds] : undefined;
  if (products && customerIds) return { products, customerIds };
  const client = await connectOltp(cfg, opts.database);
  try {
    products ??= (
      await client.query('select product_id, price from products where active order by product_id')
    ).rows.map((r) => ({ id: Number(r.product_id), price: String(r.price) }));
    customerIds ??= (await client.query('select customer_id from customers order by customer_id')).rows.map((r) =>
      Number(r.customer_id),
    );
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(
      'PG_QUERY_FAILED',
      `reading the product catalogue: ${(err as Error).message} ` +
        '(seed the OLTP database first: sluice generate oltp --customers N --products N --orders N)',
      { cause: err },
    );
  } finally {
    await client.end().catch(() => {});
  }
  return { products, customerIds };
}
