import pg from 'pg';
import { extractOnce } from '../../connectors/postgres/extract/source.ts';
import { pgConnection, type Config } from '../../src/config/config.ts';
import type { CatalogEntry } from '../../src/shop/generate/clickstreamGenerator.ts';
import type { ActivityCounts } from '../../src/shop/generate/oltp/activityCounts.ts';
import { runOltpActivity } from '../../src/shop/generate/oltp/runOltpActivity.ts';
import { seedOltp, type SeedResult } from '../../src/shop/generate/oltp/seedOltp.ts';
import { ORDER_STATUSES } from '../../src/shop/oltp/oltpDdl.ts';
import { sleep } from '../../src/core/pacing.ts';

/**
 * The shop side of the chaos run: the seeded OLTP database, its activity (with the generator's
 * ground truth of bad rows), and extracts into Kafka on a short schedule, run here rather than
 * inside the runners (`sluice run --no-extract`) so that killing a runner never kills an extract.
 */

export async function seedShop(
  cfg: Config,
  sizes: { customers: number; products: number; orders: number },
  seed: string,
): Promise<{ seeded: SeedResult; products: CatalogEntry[]; customerIds: number[]; extractedRows: number }> {
  const seeded = await seedOltp(cfg, { ...sizes, seed, progress: false });
  const extracted = await extractOnce(cfg);
  const client = new pg.Client(pgConnection(cfg, cfg.oltpDatabase));
  await client.connect();
  try {
    const products = (
      await client.query('select product_id, price::text as price from products where active order by product_id')
    ).rows.map((r) => ({ id: Number(r.product_id), price: String(r.price) }));
    const customerIds = (await client.query('select customer_id from customers order by customer_id')).rows.map((r) =>
      Number(r.customer_id),
    );
    return { seeded, products, customerIds, extractedRows: extracted.rows };
  } finally {
    await client.end();
  }
}

export interface ExtractLoopStats {
  runs: number;
  failures: number;
  rows: number;
  errors: string[];
}

export interface ShopActivity {
  /** Stops the activity and the extract schedule (an extract in progress completes). */
  stop(): Promise<{ activity?: ActivityCounts; activityError?: string; extracts: ExtractLoopStats }>;
}

export function startShopActivity(
  cfg: Config,
  opts: { rate: number; badRatio: number; seed: string; extractEveryMs: number; say: (line: string) => void },
): ShopActivity {
  const ac = new AbortController();
  const activity = runOltpActivity(cfg, {
    rate: opts.rate,
    badRatio: opts.badRatio,
    seed: opts.seed,
    signal: ac.signal,
    progress: false,
  }).then(
    (counts) => ({ counts }),
    (err: Error) => ({ error: err.message }),
  );
  const extracts: ExtractLoopStats = { runs: 0, failures: 0, rows: 0, errors: [] };
  const loop = (async () => {
    while (!ac.signal.aborted) {
      await sleep(opts.extractEveryMs, ac.signal);
      if (ac.signal.aborted) break;
      extracts.runs++;
      try {
        extracts.rows += (await extractOnce(cfg)).rows;
      } catch (err) {
        extracts.failures++;
        extracts.errors.push((err as Error).message);
        opts.say(
          `extract failed (will run again in ${opts.extractEveryMs / 1000}s): ${(err as Error).message.split('\n')[0]}`,
        );
      }
    }
  })();
  return {
    async stop() {
      ac.abort();
      const [a] = await Promise.all([activity, loop]);
      return 'counts' in a ? { activity: a.counts, extracts } : { activityError: a.error, extracts };
    },
  };
}

/** The final extract after the activity stopped: no writer is left, so every row is published. */
export async function finalExtract(cfg: Config, say: (line: string) => void): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await extractOnce(cfg)).rows;
    } catch (err) {
      if (attempt >= 5) throw err;
      say(`final extract failed (${(err as Error).message.split('\n')[0]}); again in 3s`);
      await sleep(3000);
    }
  }
}

/** The bad rows of the final shop state, counted in SQL (equal to the activity's counts on a clean seed). */
export async function sqlBadCounts(cfg: Config): Promise<Record<string, number>> {
  const client = new pg.Client(pgConnection(cfg, cfg.oltpDatabase));
  await client.connect();
  try {
    const unknownCustomer =
      'select count(*) from orders o ' +
      'where not exists (select 1 from customers c where c.customer_id = o.customer_id)';
    const { rows } = await client.query(
      `select
      (select count(*) from orders where total_amount < 0)::int as negative_total,
      (select count(*) from orders where status <> all($1::text[]))::int as unknown_status,
      (${unknownCustomer})::int as unknown_customer,
      (select count(*) from customers where email is null)::int as null_email`,
      [[...ORDER_STATUSES]],
    );
    return rows[0];
  } finally {
    await client.end();
  }
}
