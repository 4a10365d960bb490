import client from 'prom-client';
import type { QualityTotal } from './qualityCounts.ts';
import type { ExpectationWindows } from './qualityLedger.ts';
import { QUALITY_WINDOW_NAMES } from './qualityThresholds.ts';

export interface QualityMetrics {
  /** Sets the pass-ratio gauges from this runner's windows (an expectation with nothing checked has none). */
  update(windows: readonly ExpectationWindows[]): void;
}

/**
 * The quality-score metrics of a runner, per topology, source topic and rule (`valid` for decode):
 * names only, never record contents. The counters are this process's running totals, read when
 * Prometheus scrapes (`rate()` and `sum by` across replicas work on them); the ratio gauges are
 * this runner's own windows — `sluice quality` and `readQualityScores` add every replica up.
 *
 * @example createQualityMetrics(registry, () => counters.totals()).update(ledger.windows(Date.now()));
 */
export function createQualityMetrics(
  registry: client.Registry,
  totals: () => QualityTotal[] = () => [],
): QualityMetrics {
  const registers = [registry];
  const labelNames = ['topology', 'topic', 'rule'] as const;
  const counter = (name: string, help: string, pick: (t: QualityTotal) => number) => {
    const metric: client.Counter<(typeof labelNames)[number]> = new client.Counter({
      name,
      help,
      labelNames: [...labelNames],
      registers,
      collect: () => {
        metric.reset();
        for (const t of totals()) metric.inc({ topology: t.topology, topic: t.topic, rule: t.rule }, pick(t));
      },
    });
  };
  counter(
    'sluice_quality_checked_total',
    'Records a quality expectation checked (rule, or valid: decoded)',
    (t) => t.checked,
  );
  counter(
    'sluice_quality_failed_total',
    'Records that failed a quality expectation (sent to the DLQ)',
    (t) => t.failed,
  );
  const ratio = new client.Gauge({
    name: 'sluice_quality_pass_ratio',
    help: "Share of checked records that passed a quality expectation over a window (5m, 1h, 1d), this runner's counts",
    labelNames: [...labelNames, 'window'],
    registers,
  });
  return {
    update(windows) {
      for (const e of windows)
        for (const w of QUALITY_WINDOW_NAMES) {
          const labels = { topology: e.topology, topic: e.topic, rule: e.rule, window: w };
          const r = e.windows[w].ratio;
          if (r === null) ratio.remove(labels);
          else ratio.set(labels, r);
        }
    },
  };
}
