import { parseArgs } from 'node:util';

/**
 * `npm run chaos -- [--quick] [--guarantee at_least_once|exactly_once|both] [--seed S]
 * [--clicks N] [--duration SECONDS] [--kills N] [--keep-stack]`: the sizes of one run.
 */

export type Guarantee = 'at_least_once' | 'exactly_once';

export interface ChaosOptions {
  mode: 'quick' | 'full';
  guarantees: Guarantee[];
  seed: string;
  keepStack: boolean;
  sizes: ChaosSizes;
}

export interface ChaosSizes {
  /** Click events produced, paced evenly over the run (event time follows the wall clock). */
  clicks: number;
  /** Seconds of the run phase: generators, extracts and chaos. */
  runSeconds: number;
  clickBadRatio: number;
  /** SLUICE_MAX_MESSAGE_BYTES for the runners and the generator (small, so `too_large` records stay cheap). */
  maxMessageBytes: number;
  seed: { customers: number; products: number; orders: number };
  oltpChangesPerSecond: number;
  oltpBadRatio: number;
  extractEverySeconds: number;
  kills: number;
  pgFreezeSeconds: number;
  /** Upper bound of the drain (idle, sentinel, last windows). */
  drainSeconds: number;
  /** A restarted runner that consumes nothing within this long counts as not resumed. */
  resumeTimeoutSeconds: number;
}

const QUICK: ChaosSizes = {
  clicks: 24_000,
  runSeconds: 120,
  clickBadRatio: 0.02,
  maxMessageBytes: 64 * 1024,
  seed: { customers: 500, products: 100, orders: 1000 },
  oltpChangesPerSecond: 5,
  oltpBadRatio: 0.05,
  extractEverySeconds: 15,
  kills: 6,
  pgFreezeSeconds: 30,
  drainSeconds: 240,
  resumeTimeoutSeconds: 60,
};

const FULL: ChaosSizes = {
  clicks: 200_000,
  runSeconds: 540,
  clickBadRatio: 0.02,
  maxMessageBytes: 64 * 1024,
  seed: { customers: 2000, products: 200, orders: 5000 },
  oltpChangesPerSecond: 10,
  oltpBadRatio: 0.05,
  extractEverySeconds: 20,
  kills: 20,
  pgFreezeSeconds: 30,
  drainSeconds: 360,
  resumeTimeoutSeconds: 90,
};

export const USAGE = `usage: npm run chaos -- [--quick] [--guarantee at_least_once|exactly_once|both] [--seed S]
                      [--clicks N] [--duration SECONDS] [--kills N] [--keep-stack]

Drives the real product on the local stack (SLUICE_* ports) under chaos and checks the
guarantees. Per guarantee it WIPES the stack directory (SLUICE_STACK_DIR) and starts a clean
stack. --quick: ~5 min per guarantee (24k clicks, 6 kills); default: ~15 min per guarantee
(200k clicks, 20 kills) on a 2-core machine. Writes
bench/results/chaos.json; exit code 1 when a required check fails.`;

export function parseChaosOptions(argv: string[]): ChaosOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      guarantee: { type: 'string', default: 'both' },
      seed: { type: 'string', default: 'chaos' },
      clicks: { type: 'string' },
      duration: { type: 'string' },
      kills: { type: 'string' },
      'keep-stack': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const g = values.guarantee;
  if (!['at_least_once', 'exactly_once', 'both'].includes(g))
    throw new Error(`--guarantee must be at_least_once, exactly_once or both, not ${g}`);
  const sizes = { ...(values.quick ? QUICK : FULL) };
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, not ${v}`);
    return n;
  };
  sizes.clicks = int('clicks', values.clicks) ?? sizes.clicks;
  sizes.runSeconds = int('duration', values.duration) ?? sizes.runSeconds;
  sizes.kills = int('kills', values.kills) ?? sizes.kills;
  return {
    mode: values.quick ? 'quick' : 'full',
    guarantees: g === 'both' ? ['at_least_once', 'exactly_once'] : [g as Guarantee],
    seed: values.seed,
    keepStack: values['keep-stack'],
    sizes,
  };
}

export function describeSizes(s: ChaosSizes): string {
  return [
    `${s.clicks.toLocaleString('en')} clicks over ${s.runSeconds}s (${Math.round(s.clicks / s.runSeconds)}/s, ${s.clickBadRatio * 100}% bad, max message ${s.maxMessageBytes / 1024} KiB)`,
    `shop seeded with ${s.seed.customers} customers, ${s.seed.products} products, ${s.seed.orders} orders; ${s.oltpChangesPerSecond} changes/s (${s.oltpBadRatio * 100}% bad); extract every ${s.extractEverySeconds}s`,
    `${s.kills} runner SIGKILLs, 1 broker crash + restart, Postgres SIGSTOP ${s.pgFreezeSeconds}s; two runners for the first half; drain ≤ ${s.drainSeconds}s`,
  ].join('\n  ');
}
