import { InvalidArgumentError, type Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { SluiceError } from '../core/errors.ts';
import { connectOltp, ensureDatabase, resetOltp } from '../shop/oltp/oltpDdl.ts';
import {
  isSeedAborted,
  runOltpActivity,
  seedOltp,
  type ActivityCounts,
  type SeedResult,
} from '../shop/generate/oltpGenerator.ts';
import { CLICKSTREAM_TOPIC, generateClickstream } from '../shop/generate/clickstreamGenerator.ts';
import { parseDuration } from '../shop/generate/pacing.ts';

/**
 * `sluice generate oltp|clickstream`: the data generators. Ctrl-C stops cleanly: the counts of
 * what was written so far are printed (and written to --ground-truth) and the exit code is 0.
 */

const say = (line: string) => process.stdout.write(`${line}\n`);

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('expected a number of records per second >= 0 (0: unlimited)');
  return n;
}

function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('expected a ratio between 0 and 1, e.g. 0.05');
  return n;
}

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function time(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected epoch milliseconds or an ISO-8601 time');
  return n;
}

/**
 * Runs `work` with an AbortSignal tied to Ctrl-C (SIGINT) and SIGTERM: the first signal asks the
 * work to stop cleanly, a second one exits at once.
 */
async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`\n${sig} again: exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${sig}: stopping cleanly (again to force)…\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

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

export function generateCommand(program: Command): void {
  const generate = program
    .command('generate')
    .description('Data generators: the shop database (oltp) and the web clickstream');

  generate
    .command('oltp')
    .description(
      'Seed the shop database through COPY (--customers/--products/--orders) and/or keep it alive with changes and bad rows (--rate)',
    )
    .option('--customers <n>', 'customers to seed', count)
    .option('--products <n>', 'products to seed', count)
    .option('--orders <n>', 'orders to seed (with 1–6 items each)', count)
    .option('--seed <s>', 'random seed: same seed, same data', '42')
    .option('--rate <r>', 'after seeding, make this many changes per second (0: unlimited)', rate)
    .option('--duration <d>', 'how long the activity runs, e.g. 30s, 5m (default: until Ctrl-C)', duration)
    .option('--count <n>', 'stop the activity after this many changes', count)
    .option('--bad-ratio <b>', 'share of changes that are bad rows the data-quality rules must catch', ratio, 0)
    .option('--reset', 'drop and recreate the tables first (deletes every row)')
    .option('--ground-truth <file>', 'write the exact activity counts (per change kind and bad-row kind) as JSON')
    .option('--database <name>', 'database on the configured Postgres server (default: SLUICE_OLTP_DATABASE)')
    .option(
      '--base-time <t>',
      'seeded order times fall in the 30 days before this (ISO or epoch ms; default now)',
      time,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  sluice generate oltp --customers 10000 --products 1000 --orders 100000 --seed 7\n  sluice generate oltp --rate 50 --duration 5m --bad-ratio 0.05 --ground-truth truth.json',
    )
    .action(async (flags: OltpFlags) => {
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
      const database = flags.database ?? cfg.oltpDatabase;
      if (await ensureDatabase(cfg, database)) say(`created database ${database}`);

      await withInterrupt(async (signal) => {
        if (flags.reset && !seeding) {
          const client = await connectOltp(cfg, database);
          try {
            await resetOltp(client);
          } finally {
            await client.end();
          }
          say(`reset oltp tables in ${database}`);
        }
        if (seeding) {
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
          } catch (err) {
            if (!isSeedAborted(err)) throw err;
            say('seeding interrupted: rolled back, nothing written (0 rows)');
            return;
          }
        }
        if (activity && !signal.aborted) {
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
      });
    });

  generate
    .command('clickstream')
    .description(
      `Produce Avro click events (Confluent wire format, keyed by session) with duplicates, out-of-order, late and bad records; prints the exact count of each kind`,
    )
    .option('--rate <r>', 'events per second (0: as fast as the broker takes them)', rate, 100)
    .option('--duration <d>', 'how long to run, e.g. 30s, 5m (default: until --count or Ctrl-C)', duration)
    .option('--count <n>', 'stop after this many events', count)
    .option(
      '--bad-ratio <b>',
      'share of records that are bad (undecodable or breaking a rule), split evenly across the kinds',
      ratio,
      0,
    )
    .option('--seed <s>', 'random seed: same seed and base time, same events', '42')
    .option('--ground-truth <file>', 'write the exact counts of every kind as JSON')
    .option('--topic <t>', 'topic to produce to', CLICKSTREAM_TOPIC)
    .option('--base-time <t>', 'event time of the first event (ISO or epoch ms; default now)', time)
    .option('--database <name>', 'OLTP database to read product and customer ids from (default: SLUICE_OLTP_DATABASE)')
    .addHelpText(
      'after',
      '\nProduct ids come from the OLTP catalogue (seed it first with `sluice generate oltp`).\n\nExample:\n  sluice generate clickstream --rate 500 --duration 5m --bad-ratio 0.02 --seed 1 --ground-truth clicks.json',
    )
    .action(async (flags: ClickFlags) => {
      const cfg = loadConfig();
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
        say(
          `${r.aborted ? 'interrupted' : 'done'}: ${r.total} events to ${r.topic} in ${(r.elapsedMs / 1000).toFixed(1)}s (${r.eventsPerSecond}/s)`,
        );
        if (flags.groundTruth) say(`ground truth written to ${flags.groundTruth}`);
      });
    });
}
