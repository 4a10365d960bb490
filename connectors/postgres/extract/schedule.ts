import type { Config } from '../../../src/config/config.ts';
import { asSluiceError, type SluiceError } from '../../../src/core/errors.ts';
import { createLogger } from '../../../src/core/log.ts';
import { parseExtractSourceConfig } from './config.ts';
import type { ExtractResult } from './extractResult.ts';
import { createExtractStats, type ExtractStats } from './extractStats.ts';
import { type ExtractOptions, extractOnce } from './source.ts';

const log = createLogger('extract.postgres');

/** Options of `startExtractSchedule`; the rest are the options of each run. */
export interface ExtractScheduleOptions extends Omit<ExtractOptions, 'full' | 'since' | 'signal' | 'stats'> {
  /** Time between run starts; default: the config's intervalMs (1 h). A run longer than this delays the next. */
  intervalMs?: number;
  /** Delay of the first run; default 0 (extract at start, then every interval). */
  initialDelayMs?: number;
  /** First retry after a failed run; doubles per consecutive failure, capped at intervalMs. Default 30 s. */
  retryMs?: number;
  /** Called after every run (result or error). */
  onRun?: (outcome: { result?: ExtractResult; error?: SluiceError }) => void;
}

/** A running schedule. */
export interface ExtractSchedule {
  readonly stats: ExtractStats;
  /** Runs now unless a run is in progress, in which case it waits for that one. */
  runNow(): Promise<void>;
  /** Stops the timer, asks a running extract to stop after its page in flight, and waits for it. */
  stop(): Promise<void>;
}

/**
 * Runs `extractOnce` every `intervalMs`, never two at once; failures are logged and retried with
 * backoff. Used inside `sluice run`.
 *
 * @example
 *   const schedule = startExtractSchedule(cfg, { intervalMs: 3_600_000 });
 *   // ... on shutdown:
 *   await schedule.stop();
 */
export function startExtractSchedule(cfg: Config, opts: ExtractScheduleOptions = {}): ExtractSchedule {
  const { intervalMs: intervalOpt, initialDelayMs = 0, retryMs = 30_000, onRun, ...extractOpts } = opts;
  const intervalMs = intervalOpt ?? parseExtractSourceConfig(extractOpts, cfg).intervalMs;
  const stats = createExtractStats();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  let consecutiveFailures = 0;

  const plan = (delayMs: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        void runNow();
      },
      Math.max(0, delayMs),
    );
  };

  function runNow(): Promise<void> {
    if (current) return current;
    if (stopped) return Promise.resolve();
    clearTimeout(timer);
    const startedAt = performance.now();
    current = (async () => {
      let next = intervalMs;
      try {
        const result = await extractOnce(cfg, { ...extractOpts, signal: ac.signal, stats });
        consecutiveFailures = 0;
        next = intervalMs - (performance.now() - startedAt);
        onRun?.({ result });
      } catch (err) {
        const e = asSluiceError(err);
        consecutiveFailures++;
        next = Math.min(intervalMs, retryMs * 2 ** (consecutiveFailures - 1));
        log.error(
          { code: e.code, err: e.message, failures: consecutiveFailures, retryInMs: next },
          'scheduled extract failed; will retry',
        );
        onRun?.({ error: e });
      } finally {
        current = undefined;
        plan(next);
      }
    })();
    return current;
  }

  plan(initialDelayMs);
  return {
    stats,
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      ac.abort();
      await current;
    },
  };
}
