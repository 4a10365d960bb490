import { writeFileSync } from 'node:fs';
import type pg from 'pg';
import type { Config } from '../../../config/config.ts';
import { SluiceError } from '../../../core/errors.ts';
import { createLogger } from '../../../core/log.ts';
import { applyOltpDdl, connectOltp, type OltpTarget } from '../../oltp/oltpDdl.ts';
import { formatRate, sleep, startProgress, TokenBucket } from '../../../core/pacing.ts';
import { createRng, type Seed } from '../random.ts';
import { type ActivityCounts, emptyActivityCounts } from './activityCounts.ts';
import { decimalToCents } from './money.ts';
import { CURRENCY_BY_COUNTRY } from './people.ts';
import { ShopActivity, type WorkingSets } from './shopActivity.ts';

const log = createLogger('generate.oltp');

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

async function loadWorkingSets(client: pg.Client): Promise<WorkingSets> {
  const customers = (
    await client.query('select customer_id, country from customers where email is not null order by customer_id')
  ).rows.map((row) => ({ id: Number(row.customer_id), currency: CURRENCY_BY_COUNTRY.get(row.country) ?? 'EUR' }));
  const products = (
    await client.query('select product_id, price from products where active order by product_id')
  ).rows.map((row) => ({ id: Number(row.product_id), cents: decimalToCents(row.price) }));
  const open = (
    await client.query(
      `select order_id, status from orders where status in ('pending', 'paid', 'shipped') ` +
        'order by order_id desc limit 20000',
    )
  ).rows.map((row) => ({ id: Number(row.order_id), status: row.status as string }));
  if (!products.length)
    throw new SluiceError(
      'CLI_USAGE',
      'the OLTP database has no active products: seed it first ' +
        '(sluice generate oltp --customers N --products N --orders N)',
    );
  return { customers, products, open };
}

function progressLine(counts: ActivityCounts, ms: number): string {
  const c = counts.changes;
  const bad = Object.values(counts.bad).reduce((a, b) => a + b, 0);
  return (
    `oltp activity: ${counts.total.toLocaleString('en')} changes (${formatRate(counts.total, ms)}) · ` +
    `orders ${c.new_orders} · transitions ${c.status_transitions} · ` +
    `customers +${c.new_customers}/~${c.customer_updates} · prices ${c.price_updates} · bad ${bad}`
  );
}

/** Makes `n` changes in one transaction. */
async function changeBatch(client: pg.Client, shop: ShopActivity, n: number, badRatio: number, counts: ActivityCounts) {
  await client.query('begin');
  try {
    for (let i = 0; i < n; i++) {
      if (await shop.change(badRatio)) counts.total++;
      else counts.skipped++;
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw new SluiceError('PG_QUERY_FAILED', `OLTP activity: ${(err as Error).message}`, { cause: err });
  }
}

/** Changes at `opts.rate` per second, in batches of what the token bucket allows, until a limit. */
async function runChanges(client: pg.Client, shop: ShopActivity, opts: ActivityOptions, counts: ActivityCounts) {
  const badRatio = Math.min(1, Math.max(0, opts.badRatio ?? 0));
  const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 5));
  const deadline = opts.durationMs !== undefined ? performance.now() + opts.durationMs : Infinity;
  const limit = opts.count ?? Infinity;
  let attempts = 0;
  while (!opts.signal?.aborted && attempts < limit && performance.now() < deadline) {
    const n = bucket.take(Math.min(500, limit - attempts));
    if (n === 0) {
      await sleep(Math.min(bucket.waitMs(), Math.max(0, deadline - performance.now())), opts.signal);
      continue;
    }
    attempts += n;
    await changeBatch(client, shop, n, badRatio, counts);
  }
}

/**
 * Keeps the shop alive at `rate` changes per second until `durationMs`, `count` or the signal.
 * A `badRatio` share of changes are bad rows, one kind each, counted exactly: on a database
 * seeded clean, SQL counts of each bad kind equal the returned `bad` counts.
 *
 * @example
 *   const counts = await runOltpActivity(cfg, { rate: 50, durationMs: 60_000, badRatio: 0.02 });
 */
export async function runOltpActivity(cfg: Config, opts: ActivityOptions): Promise<ActivityCounts> {
  const t0 = performance.now();
  const rng = createRng(opts.seed ?? 42).fork('activity');
  const counts = emptyActivityCounts();
  const client = await connectOltp(cfg, opts.database);
  const progress = startProgress((ms) => progressLine(counts, ms), { enabled: opts.progress });
  try {
    await applyOltpDdl(client);
    const shop = new ShopActivity(client, rng, await loadWorkingSets(client), counts);
    await runChanges(client, shop, opts, counts);
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
