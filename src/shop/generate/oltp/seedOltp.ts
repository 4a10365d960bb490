import type { Config } from '../../../config/config.ts';
import { createLogger } from '../../../core/log.ts';
import { applyOltpDdl, connectOltp, type OltpTarget, resetOltp } from '../../oltp/oltpDdl.ts';
import { formatRate, startProgress } from '../../../core/pacing.ts';
import { createRng, type Seed } from '../random.ts';
import { seedCustomers } from './seedCustomers.ts';
import { seedOrders } from './seedOrders.ts';
import { seedProducts } from './seedProducts.ts';
import { checkAborted, type SeedRun } from './seedRun.ts';

const log = createLogger('generate.oltp');

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

/** Seeds every table inside the (already open) seed transaction. */
async function seedTables(run: SeedRun, opts: SeedOptions, result: SeedResult): Promise<void> {
  if (opts.customers > 0) result.customers = await seedCustomers(run, opts.customers);
  checkAborted(run);
  if (opts.products > 0) result.products = await seedProducts(run, opts.products);
  checkAborted(run);
  if (opts.orders > 0) Object.assign(result, await seedOrders(run, opts.orders));
  checkAborted(run);
}

/**
 * Seeds customers, products and orders with their items through COPY, in one transaction.
 * New rows get ids after the current maximum of each table; orders reference every customer and
 * active product in the database. The same seed, counts and baseTime on the same starting state
 * give the same rows (except `updated_at`, which is the database clock).
 *
 * @example
 *   const r = await seedOltp(cfg, { customers: 1000, products: 200, orders: 5000, seed: 7 });
 */
export async function seedOltp(cfg: Config, opts: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const client = await connectOltp(cfg, opts.database);
  let copied = 0;
  const progress = startProgress(
    (ms) => `seeding oltp: ${copied.toLocaleString('en')} rows (${formatRate(copied, ms)})`,
    { enabled: opts.progress },
  );
  const run: SeedRun = {
    client,
    rng: createRng(opts.seed ?? 42),
    baseTime: opts.baseTime ?? Date.now(),
    days: opts.days ?? 30,
    signal: opts.signal,
    onRows: (n) => {
      copied += n;
    },
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
    await seedTables(run, opts, result);
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
