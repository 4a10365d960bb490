import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { connectOltp, ensureDatabase, resetOltp } from '../shop/oltp/oltpDdl.ts';
import { isSeedAborted } from '../shop/generate/oltp/seedRun.ts';
import { seedOltp, type SeedResult } from '../shop/generate/oltp/seedOltp.ts';
import { runOltpActivity } from '../shop/generate/oltp/runOltpActivity.ts';
import type { ActivityCounts } from '../shop/generate/oltp/activityCounts.ts';
import { CLICKSTREAM_TOPIC, generateClickstream } from '../shop/generate/clickstreamGenerator.ts';
import { duration, epochOrIsoTime, ratio, recordsPerSecond, wholeNumber } from './argParsers.ts';
import { withInterrupt } from './withInterrupt.ts';
import { requireServices } from './requireServices.ts';

/**
 * `sluice generate oltp|clickstream`: the data generators. Ctrl-C stops cleanly: the counts of
 * what was written so far are printed (and written to --ground-truth) and the exit code is 0.
 */

const say = (line: string) => process.stdout.write(`${line}\n`);

interface OltpFlags {
  customers?: number;
  products?: number;
  orders?: number;
  seed: string;
  rate?: number;
  duration?: number;
  count?: number;
  badRatio: number;
  reset?: boolean;
  groundTruth?: string;
  database?: string;
  baseTime?: number;
}

interface ClickFlags {
  rate: number;
  duration?: number;
  count?: number;
  badRatio: number;
  seed: string;
  groundTruth?: string;
  topic: string;
  baseTime?: number;
  database?: string;
}

function formatSeed(r: SeedResult): string {
  return (
    `seeded oltp: ${r.customers} customers, ${r.products} products, ${r.orders} orders, ${r.orderItems} order items ` +
    `(${r.rows} rows in ${(r.elapsedMs / 1000).toFixed(1)}s, ${r.rowsPerSecond} rows/s)`
  );
}

/** Registers `generate oltp` and `generate clickstream`. */
export function generateCommand(program: Command): void {
  const generate = program
    .command('generate')
    .description('Data generators: the shop database (oltp) and the web clickstream');
  oltpSubcommand(generate);
  clickstreamSubcommand(generate);
}

function oltpSubcommand(generate: Command): void {
  generate
    .command('oltp')
    .description(
      'Seed the shop database through COPY (--customers/--products/--orders) and/or keep it alive with changes ' +
        'and bad rows (--rate)',
    )
    .option('--customers <n>', 'customers to seed', wholeNumber)
    .option('--products <n>', 'products to seed', wholeNumber)
    .option('--orders <n>', 'orders to seed (with 1–6 items each)', wholeNumber)
    .option('--seed <s>', 'random seed: same seed, same data', '42')
    .option('--rate <r>', 'after seeding, make this many changes per second (0: unlimited)', recordsPerSecond)
    .option('--duration <d>', 'how long the activity runs, e.g. 30s, 5m (default: until Ctrl-C)', duration)
    .option('--count <n>', 'stop the activity after this many changes', wholeNumber)
    .option('--bad-ratio <b>', 'share of changes that are bad rows the data-quality rules must catch', ratio, 0)
    .option('--reset', 'drop and recreate the tables first (deletes every row)')
    .option('--ground-truth <file>', 'write the exact activity counts (per change kind and bad-row kind) as JSON')
    .option('--database <name>', 'database on the configured Postgres server (default: SLUICE_OLTP_DATABASE)')
    .option(
      '--base-time <t>',
      'seeded order times fall in the 30 days before this (ISO or epoch ms; default now)',
      epochOrIsoTime,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sluice generate oltp --customers 10000 --products 1000 --orders 100000 --seed 7\n' +
        '  sluice generate oltp --rate 50 --duration 5m --bad-ratio 0.05 --ground-truth truth.json',
    )
    .action(runOltp);
}

async function runOltp(flags: OltpFlags): Promise<void> {
  const seeding = flags.customers !== undefined || flags.products !== undefined || flags.orders !== undefined;
  const activity = flags.rate !== undefined;
  if (!seeding && !activity && !flags.reset) {
    throw new SluiceError(
      'CLI_USAGE',
      'nothing to do: give --customers/--products/--orders to seed, --rate to run activity, or --reset',
    );
  }
  if (!activity && (flags.duration !== undefined || flags.count !== undefined)) {
    throw new SluiceError('CLI_USAGE', '--duration and --count apply to the activity: add --rate');
  }
  const cfg = loadConfig();
  await requireServices(cfg, ['postgres']);
  const database = flags.database ?? cfg.oltpDatabase;
  if (await ensureDatabase(cfg, database)) say(`created database ${database}`);

  await withInterrupt(async (signal) => {
    if (flags.reset && !seeding) await resetTables(cfg, database);
    if (seeding && !(await seed(cfg, database, flags, signal))) return;
    if (activity && !signal.aborted) await runActivity(cfg, database, flags, signal);
  });
}

async function resetTables(cfg: Config, database: string): Promise<void> {
  const client = await connectOltp(cfg, database);
  try {
    await resetOltp(client);
  } finally {
    await client.end();
  }
  say(`reset oltp tables in ${database}`);
}

/** Seeds the shop; false when interrupted (the seed rolls back, so nothing was written). */
async function seed(cfg: Config, database: string, flags: OltpFlags, signal: AbortSignal): Promise<boolean> {
  try {
    const r = await seedOltp(cfg, {
      customers: flags.customers ?? 0,
      products: flags.products ?? 0,
      orders: flags.orders ?? 0,
      seed: flags.seed,
      database,
      reset: flags.reset,
      baseTime: flags.baseTime,
      signal,
    });
    say(formatSeed(r));
    return true;
  } catch (err) {
    if (!isSeedAborted(err)) throw err;
    say('seeding interrupted: rolled back, nothing written (0 rows)');
    return false;
  }
}

async function runActivity(cfg: Config, database: string, flags: OltpFlags, signal: AbortSignal): Promise<void> {
  const counts: ActivityCounts = await runOltpActivity(cfg, {
    rate: flags.rate!,
    durationMs: flags.duration,
    count: flags.count,
    badRatio: flags.badRatio,
    seed: flags.seed,
    database,
    signal,
    groundTruthFile: flags.groundTruth,
  });
  say(
    `${counts.aborted ? 'interrupted' : 'done'}: ${counts.total} changes in ${(counts.elapsedMs / 1000).toFixed(1)}s`,
  );
  say(JSON.stringify(counts, null, 2));
  if (flags.groundTruth) say(`ground truth written to ${flags.groundTruth}`);
}

function clickstreamSubcommand(generate: Command): void {
  generate
    .command('clickstream')
    .description(
      'Produce Avro click events (Confluent wire format, keyed by session) with duplicates, out-of-order, late ' +
        'and bad records; prints the exact count of each kind',
    )
    .option('--rate <r>', 'events per second (0: as fast as the broker takes them)', recordsPerSecond, 100)
    .option('--duration <d>', 'how long to run, e.g. 30s, 5m (default: until --count or Ctrl-C)', duration)
    .option('--count <n>', 'stop after this many events', wholeNumber)
    .option(
      '--bad-ratio <b>',
      'share of records that are bad (undecodable or breaking a rule), split evenly across the kinds',
      ratio,
      0,
    )
    .option('--seed <s>', 'random seed: same seed and base time, same events', '42')
    .option('--ground-truth <file>', 'write the exact counts of every kind as JSON')
    .option('--topic <t>', 'topic to produce to', CLICKSTREAM_TOPIC)
    .option('--base-time <t>', 'event time of the first event (ISO or epoch ms; default now)', epochOrIsoTime)
    .option('--database <name>', 'OLTP database to read product and customer ids from (default: SLUICE_OLTP_DATABASE)')
    .addHelpText(
      'after',
      '\nProduct ids come from the OLTP catalogue (seed it first with `sluice generate oltp`).\n\nExample:\n' +
        '  sluice generate clickstream --rate 500 --duration 5m --bad-ratio 0.02 --seed 1 --ground-truth clicks.json',
    )
    .action(runClickstream);
}

async function runClickstream(flags: ClickFlags): Promise<void> {
  const cfg = loadConfig();
  await requireServices(cfg, ['kafka', 'registry', 'postgres']);
  await withInterrupt(async (signal) => {
    const r = await generateClickstream(cfg, {
      rate: flags.rate,
      durationMs: flags.duration,
      count: flags.count,
      badRatio: flags.badRatio,
      seed: flags.seed,
      topic: flags.topic,
      baseTime: flags.baseTime,
      database: flags.database,
      groundTruthFile: flags.groundTruth,
      signal,
      print: true,
    });
    const seconds = (r.elapsedMs / 1000).toFixed(1);
    say(
      `${r.aborted ? 'interrupted' : 'done'}: ${r.total} events to ${r.topic} in ${seconds}s (${r.eventsPerSecond}/s)`,
    );
    if (flags.groundTruth) say(`ground truth written to ${flags.groundTruth}`);
  });
}
