import type { Config } from '../../config/config.ts';
import type { KafkaClient } from '../../kafka/createKafkaClient.ts';
import type { FreshnessSla } from '../../quality/freshnessSlas.ts';
import { type FreshnessResult, measureFreshness } from '../../quality/measureFreshness.ts';
import { duration } from '../../quality/runWarehouseTests.ts';
import type { Observation, SignalSource } from '../observation.ts';

/** A freshness result as an observation of `freshness_breach`: firing in breach (empty, missing, unmeasured too). */
export function freshnessObservation(r: FreshnessResult): Observation {
  const age = r.ageSeconds === null ? (r.message ?? r.problem ?? 'no data') : `${duration(r.ageSeconds * 1000)} old`;
  return {
    rule: 'freshness_breach',
    subject: r.subject,
    state: r.state === 'breach' ? 'firing' : 'ok',
    summary: `newest data ${age}; breach after ${duration(r.breachAfterSeconds * 1000)} (${r.source})`,
    evidence: {
      state: r.state,
      ageSeconds: r.ageSeconds === null ? null : Math.round(r.ageSeconds),
      newest: r.newest,
      warnAfterSeconds: r.warnAfterSeconds,
      breachAfterSeconds: r.breachAfterSeconds,
      problem: r.problem ?? null,
    },
    significant: ['state', 'problem'],
  };
}

/**
 * Freshness SLAs (`measureFreshness`, the measurement of `sluice freshness` and the runner's gauges).
 *
 * @example freshnessSignal(cfg, { kafka })
 */
export function freshnessSignal(
  cfg: Config,
  opts: { kafka: KafkaClient; slas?: readonly FreshnessSla[] },
): SignalSource {
  return {
    name: 'freshness',
    rules: ['freshness_breach'],
    async observe(signal) {
      const results = await measureFreshness(cfg, opts.slas ?? cfg.freshnessSlas, { kafka: opts.kafka, signal });
      // Every subject failing to measure is the measurement failing, not every subject in breach.
      if (results.length && results.every((r) => r.problem === 'failed'))
        throw new Error(`freshness not measured: ${results[0].message}`);
      return results.map(freshnessObservation);
    },
  };
}
