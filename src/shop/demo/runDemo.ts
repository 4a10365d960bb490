import pg from 'pg';
import { dashboardLine } from '../../feed/feedToken.ts';
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
import { flowLine, formatLanded, formatRunFacts, type Landed, type RunFacts } from './demoReport.ts';
import { watchParent } from './watchParent.ts';

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
  say(`dashboard      ${dashboardLine(proc.url, cfg)}   (live feed ${proc.url.replace('http', 'ws')}/ws)`);
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
  const howLong = opts.durationMs ? `${Math.round(opts.durationMs / 1000)}s` : 'ever';
  say(`running for ${howLong} (Ctrl-C or \`kill -INT ${process.pid}\` stops cleanly)`);
  say('');
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

/** What the topics, the lake and the warehouse hold now (lake and warehouse: empty when unreachable). */
async function landedNow(cfg: Config): Promise<Landed> {
  const [topics, lake, warehouse] = await Promise.all([
    topicCounts(cfg),
    lakeCounts(cfg).catch(() => ({})),
    warehouseCounts(cfg).catch(() => ({})),
  ]);
  return { topics, lake, warehouse };
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
  const t0 = performance.now();
  const before = await landedNow(cfg);
  await prepareShop(cfg, say);
  const proc = await startRunnerProcess(cfg, Object.values(TOPOLOGIES), { commitIntervalMs: 1000 });
  const extract = startExtractSchedule(cfg, { intervalMs: opts.extractEveryMs, initialDelayMs: opts.extractEveryMs });
  const abort = new AbortController();
  const facts: RunFacts = { elapsedMs: 0, clicksPerSecondAsked: opts.clicksPerSecond };
  const stopOn = (why: string) => {
    say(`${why}: stopping cleanly${why.startsWith('SIG') ? ' (again to force)' : ''}…`);
    if (abort.signal.aborted) return;
    facts.stoppedBy = why;
    abort.abort();
  };
  const onSigint = () => stopOn('SIGINT');
  const onSigterm = () => stopOn('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let unwatch = () => {};
  let ended: { code: number };
  try {
    sayWhereThingsAre(cfg, proc, opts, say);
    // Once each: a second Ctrl-C finds no handler and ends the process at once (the "force").
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    // Started by npm (npx, npm run) or the bin wrapper, which went away: stop as on Ctrl-C.
    unwatch = watchParent(() => stopOn('the process that started the demo exited'));
    timer = opts.durationMs
      ? setTimeout(() => {
          if (!abort.signal.aborted) abort.abort();
        }, opts.durationMs)
      : undefined;
    ticker = setInterval(() => {
      void topicCounts(cfg)
        .then((c) => say(flowLine(before.topics, c)))
        .catch(() => {});
    }, 10_000);
    const generators = startGenerators(cfg, opts, abort.signal);
    ended = await Promise.race([proc.done.then((code) => ({ code })), generators.then(() => ({ code: 0 }))]);
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    const [clicks, shop] = await generators;
    if (clicks.status === 'fulfilled') facts.clicks = { total: clicks.value.total, elapsedMs: clicks.value.elapsedMs };
    if (shop.status === 'fulfilled') facts.shopChanges = shop.value.total;
    for (const r of [clicks, shop])
      if (r.status === 'rejected') log.error({ err: String(r.reason) }, 'generator failed');
    facts.elapsedMs = performance.now() - t0;
    say('stopping: last extract, drain, flush, commit…');
    await extract.runNow().catch(() => {});
    await extract.stop();
    await new Promise((r) => setTimeout(r, 3000)); // let the last extract flow through the topologies
  } finally {
    // Whatever failed above, nothing this demo started keeps running (stop() is idempotent).
    clearTimeout(timer);
    clearInterval(ticker);
    unwatch();
    abort.abort();
    await extract.stop().catch(() => {});
    await proc.stop().catch(() => {});
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigterm);
  }
  const after = await landedNow(cfg);
  say('');
  for (const line of formatLanded(before, after, cfg.s3Bucket)) say(line);
  for (const line of formatRunFacts(facts, before, after)) say(line);
  if (ended.code !== 0) throw new Error(`the runner stopped with exit code ${ended.code}`);
}
