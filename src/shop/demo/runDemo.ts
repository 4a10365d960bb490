import pg from 'pg';
import { pgConnection, type Config } from '../../config/config.ts';
import { createLogger } from '../../core/log.ts';
import { generateClickstream } from '../generate/clickstreamGenerator.ts';
import { runOltpActivity } from '../generate/oltp/runOltpActivity.ts';
import { seedOltp } from '../generate/oltp/seedOltp.ts';
import { startRunnerProcess } from '../../runner/runnerProcess.ts';
import { extractOnce } from '../../../connectors/postgres/extract/source.ts';
import { startExtractSchedule } from '../../../connectors/postgres/extract/schedule.ts';
import { TOPOLOGIES } from '../../../topologies/index.ts';
import { lakeCounts, topicCounts, warehouseCounts } from './landedCounts.ts';

/**
 * `sluice demo`: the whole flow on the local stack. Seeds the shop database (once), keeps the
 * shop and the web clickstream alive, extracts the database into Kafka on a short schedule, runs
 * every topology (validation → silver/DLQ, metrics windows, lake, warehouse) with the dashboard,
 * prints where everything is and, at the end, what landed where.
 */

/** How long the demo runs and how much data it makes. */
export interface DemoOptions {
  durationMs: number;
  clicksPerSecond: number;
  oltpChangesPerSecond: number;
  badRatio: number;
  extractEveryMs: number;
}

type Say = (line: string) => void;
type RunnerProcess = Awaited<ReturnType<typeof startRunnerProcess>>;

const log = createLogger('demo');

async function oltpIsSeeded(cfg: Config): Promise<boolean> {
  const client = new pg.Client(pgConnection(cfg, cfg.oltpDatabase));
  await client.connect();
  try {
    const { rows } = await client.query(`select to_regclass('public.orders') is not null as present`);
    if (!rows[0].present) return false;
    return Number((await client.query('select count(*) as n from orders')).rows[0].n) > 0;
  } finally {
    await client.end();
  }
}

/** Seeds the shop database unless it has orders already, then extracts it into Kafka once. */
async function prepareShop(cfg: Config, say: Say): Promise<void> {
  if (!(await oltpIsSeeded(cfg))) {
    const seeded = await seedOltp(cfg, { customers: 2000, products: 200, orders: 5000, seed: 'demo', progress: false });
    say(
      `seeded ${cfg.oltpDatabase}: ${seeded.customers} customers, ${seeded.products} products, ${seeded.orders} orders`,
    );
  } else say(`${cfg.oltpDatabase} already seeded; reusing it`);

  // The clickstream topology checks each click's product against the oltp.products table, which
  // the runner reads to its end before consuming: the catalogue must be in Kafka before the
  // runner and the clicks start, or valid clicks are dead-lettered as unknown products.
  const first = await extractOnce(cfg, {});
  const tables = Object.values(first.tables)
    .map((t) => `${t.rows} ${t.table}`)
    .join(', ');
  say(`extracted ${cfg.oltpDatabase} into Kafka: ${tables}`);
}

function sayWhereThingsAre(cfg: Config, proc: RunnerProcess, opts: DemoOptions, say: Say): void {
  say('');
  say(`dashboard      ${proc.url}/            (live feed ${proc.url.replace('http', 'ws')}/ws)`);
  say(`metrics        ${proc.url}/metrics     readiness ${proc.url}/readyz`);
  say(
    `kafka          ${cfg.kafkaBrokers}  topics: oltp.* web.clickstream silver.* *.dlq metrics.* ` +
      '(sluice topics, sluice inspect TOPIC)',
  );
  say(`registry       ${cfg.registryUrl}`);
  say(`S3 lake        s3://${cfg.s3Bucket}/{raw,staging,quarantine}/  at ${cfg.s3Endpoint}`);
  say(
    `warehouse      postgres://${cfg.pgUser}@${cfg.pgHost}:${cfg.pgPort}/${cfg.warehouseDatabase}  ` +
      'schemas bronze, silver, gold',
  );
  say(`topologies     ${proc.runners.map((r) => r.def.name).join(', ')}`);
  say(`running for ${opts.durationMs ? `${Math.round(opts.durationMs / 1000)}s` : 'ever'} (Ctrl-C stops cleanly)`);
  say('');
}

/** One line of what has flowed so far, from the topic counts. */
function flowLine(c: Record<string, number>): string {
  const n = (t: string) => c[t] ?? 0;
  const dlq = n('web.clickstream.dlq') + n('oltp.orders.dlq') + n('oltp.customers.dlq') + n('oltp.order_items.dlq');
  return (
    `… in ${n('web.clickstream')} clicks, ${n('oltp.orders') + n('oltp.order_items')} order rows │ ` +
    `silver ${n('silver.clickstream')} clicks, ${n('silver.orders')} orders │ dlq ${dlq} │ ` +
    `metric updates ${n('metrics.funnel_5m') + n('metrics.revenue_per_minute')}`
  );
}

/** The clickstream and the shop's activity, until the signal; neither failure stops the other. */
function startGenerators(cfg: Config, opts: DemoOptions, signal: AbortSignal) {
  return Promise.allSettled([
    generateClickstream(cfg, {
      rate: opts.clicksPerSecond,
      badRatio: opts.badRatio,
      seed: `demo-${Date.now()}`,
      signal,
      progress: false,
      print: false,
    }),
    runOltpActivity(cfg, {
      rate: opts.oltpChangesPerSecond,
      badRatio: opts.badRatio,
      seed: `demo-${Date.now()}`,
      signal,
      progress: false,
    }),
  ]);
}

async function sayWhatLandedWhere(cfg: Config, say: Say): Promise<void> {
  say('');
  say('== what went where');
  const counts = await topicCounts(cfg);
  for (const [t, n] of Object.entries(counts)) say(`  kafka ${t.padEnd(30)} ${n}`);
  for (const [zone, n] of Object.entries(await lakeCounts(cfg).catch(() => ({}))))
    say(`  s3://${cfg.s3Bucket}/${zone}/`.padEnd(40) + ` ${n} objects`);
  for (const [t, n] of Object.entries(await warehouseCounts(cfg).catch(() => ({}))))
    say(`  warehouse ${t.padEnd(26)} ${n} rows`);
}

/**
 * Runs the demo on a stack that is up: until `durationMs` (0: until Ctrl-C), the runner stops,
 * or both generators end; then reports what landed where. Throws when the runner failed.
 *
 * @example
 *   const rates = { clicksPerSecond: 200, oltpChangesPerSecond: 20, badRatio: 0.05 };
 *   await runDemo(cfg, { durationMs: 90_000, extractEveryMs: 15_000, ...rates }, (line) => console.log(line));
 */
export async function runDemo(cfg: Config, opts: DemoOptions, say: Say): Promise<void> {
  await prepareShop(cfg, say);
  const proc = await startRunnerProcess(cfg, Object.values(TOPOLOGIES), { commitIntervalMs: 1000 });
  const extract = startExtractSchedule(cfg, { intervalMs: opts.extractEveryMs, initialDelayMs: opts.extractEveryMs });
  const abort = new AbortController();
  const stopOn = () => abort.abort();
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let ended: { code: number };
  try {
    sayWhereThingsAre(cfg, proc, opts, say);
    process.once('SIGINT', stopOn);
    process.once('SIGTERM', stopOn);
    timer = opts.durationMs ? setTimeout(stopOn, opts.durationMs) : undefined;
    ticker = setInterval(() => {
      void topicCounts(cfg)
        .then((c) => say(flowLine(c)))
        .catch(() => {});
    }, 10_000);
    const generators = startGenerators(cfg, opts, abort.signal);
    ended = await Promise.race([proc.done.then((code) => ({ code })), generators.then(() => ({ code: 0 }))]);
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    for (const r of await generators)
      if (r.status === 'rejected') log.error({ err: String(r.reason) }, 'generator failed');
    say('stopping: last extract, drain, flush, commit…');
    await extract.runNow().catch(() => {});
    await extract.stop();
    await new Promise((r) => setTimeout(r, 3000)); // let the last extract flow through the topologies
  } finally {
    // Whatever failed above, nothing this demo started keeps running (stop() is idempotent).
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    process.removeListener('SIGINT', stopOn);
    process.removeListener('SIGTERM', stopOn);
    await extract.stop().catch(() => {});
    await proc.stop().catch(() => {});
  }
  await sayWhatLandedWhere(cfg, say);
  if (ended.code !== 0) throw new Error(`the runner stopped with exit code ${ended.code}`);
}
