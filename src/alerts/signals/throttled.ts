import type { Observation, SignalSource } from '../observation.ts';

/**
 * A source measured at most once per `minIntervalMs`: in between, its last observations are
 * answered again. For measurements that cost (the warehouse tests query every table): the
 * evaluator may tick every 30 s without running them more often than their own schedule.
 *
 * @example throttled(warehouseTestSignal(cfg), cfg.warehouseTestsIntervalMs)
 */
export function throttled(source: SignalSource, minIntervalMs: number, now: () => number = Date.now): SignalSource {
  let last: { at: number; observations: Observation[] } | undefined;
  return {
    ...source,
    async observe(signal) {
      if (last && now() - last.at < minIntervalMs) return last.observations;
      const observations = await source.observe(signal);
      last = { at: now(), observations };
      return observations;
    },
  };
}
