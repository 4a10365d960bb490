import client from 'prom-client';
import type { FreshnessState } from './freshnessSlas.ts';
import type { FreshnessResult } from './measureFreshness.ts';

/** The gauge value of each state: alert on `sluice_freshness_state == 2`. */
export const FRESHNESS_STATE_VALUE: Record<FreshnessState, number> = { fresh: 0, warn: 1, breach: 2 };

export interface FreshnessMetrics {
  /** Sets both gauges from one measurement. */
  update(results: readonly FreshnessResult[]): void;
}

/**
 * The freshness gauges, per subject (a topic, or `warehouse:schema.table`: no record contents).
 * A subject without an age (empty, missing, not measured) has no age sample rather than a made-up
 * one; its state says breach.
 *
 * @example createFreshnessMetrics(metrics.registry).update(await measureFreshness(cfg));
 */
export function createFreshnessMetrics(registry: client.Registry): FreshnessMetrics {
  const registers = [registry];
  const age = new client.Gauge({
    name: 'sluice_freshness_age_seconds',
    help: 'Age of the newest data of a freshness SLA subject (topic: record timestamp; table: max of its column)',
    labelNames: ['subject'],
    registers,
  });
  const state = new client.Gauge({
    name: 'sluice_freshness_state',
    help: 'Freshness SLA state of a subject: 0 fresh, 1 warn, 2 breach (empty, missing or not measured included)',
    labelNames: ['subject'],
    registers,
  });
  return {
    update(results) {
      for (const r of results) {
        if (r.ageSeconds === null) age.remove({ subject: r.subject });
        else age.set({ subject: r.subject }, r.ageSeconds);
        state.set({ subject: r.subject }, FRESHNESS_STATE_VALUE[r.state]);
      }
    },
  };
}
