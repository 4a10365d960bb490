import type client from 'prom-client';
import type { Config } from '../config/config.ts';
import { errorCode } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { createKafkaClient } from '../kafka/createKafkaClient.ts';
import { createFreshnessMetrics } from './freshnessMetrics.ts';
import type { FreshnessSla } from './freshnessSlas.ts';
import { type FreshnessResult, measureFreshness } from './measureFreshness.ts';

const log = createLogger('freshness');

export interface FreshnessScheduleOptions {
  /** Time between measurements; default SLUICE_FRESHNESS_INTERVAL_MS. */
  intervalMs?: number;
  /** Default: SLUICE_FRESHNESS_SLAS. */
  slas?: readonly FreshnessSla[];
  /** Called after each measurement (tests wait on it). */
  onMeasured?: (results: FreshnessResult[]) => void;
}

export interface FreshnessSchedule {
  /** Clears the timer and waits for a measurement in progress. */
  stop(): Promise<void>;
}

/**
 * Measures the freshness SLAs at once and then every interval (never two at once) into the
 * `sluice_freshness_*` gauges of `registry`. Inside `sluice run`: a measurement that fails is a
 * warning with a stable code and the gauges say breach — it never stops the runner.
 *
 * @example
 *   const freshness = startFreshnessSchedule(cfg, proc.registry);
 *   // on shutdown:
 *   await freshness.stop();
 */
export function startFreshnessSchedule(
  cfg: Config,
  registry: client.Registry,
  opts: FreshnessScheduleOptions = {},
): FreshnessSchedule {
  const intervalMs = opts.intervalMs ?? cfg.freshnessIntervalMs;
  const slas = opts.slas ?? cfg.freshnessSlas;
  const metrics = createFreshnessMetrics(registry);
  // One client for the process: a kafkajs client object holds no connection between measurements.
  const kafka = createKafkaClient(cfg, `${cfg.kafkaClientId}-freshness`, { quiet: true, retries: 2 });
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;
  let stopped = false;
  const ac = new AbortController();

  const measureOnce = async () => {
    try {
      const results = await measureFreshness(cfg, slas, { kafka, signal: ac.signal });
      if (stopped) return; // cut short by stop(): not a measurement
      metrics.update(results);
      for (const r of results.filter((x) => x.problem === 'failed'))
        log.warn(
          { code: errorCode('FRESHNESS_MEASURE_FAILED'), subject: r.subject, err: r.message },
          'freshness not measured',
        );
      opts.onMeasured?.(results);
    } catch (err) {
      log.warn({ code: errorCode('FRESHNESS_MEASURE_FAILED'), err: String(err) }, 'freshness measurement failed');
    }
  };
  const plan = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = measureOnce().finally(() => {
        current = undefined;
        plan(intervalMs);
      });
    }, delayMs);
  };
  if (intervalMs > 0 && slas.length) plan(0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      ac.abort();
      await current;
    },
  };
}
